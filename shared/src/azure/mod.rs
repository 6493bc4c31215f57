//! Everything that talks to Azure: clouds and their endpoints, Entra ID tokens, the Resource
//! Manager client and its error taxonomy, and the HTTP client they share.

pub mod arm;
pub mod cloud;
pub mod errors;
pub mod graph;
pub mod http;
pub mod limiter;
pub mod permissions;
pub mod regions;
pub mod token;

pub use arm::{ArmClient, ArmSession, ArmStats, RetrySettings};
pub use cloud::{Cloud, CustomCloud, Endpoints};
pub use errors::{ArmError, ErrorClass};
pub use graph::GraphSession;
pub use token::{Principal, TokenDiagnosis, TokenError, TokenProvider};
