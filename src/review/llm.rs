//! The LLM auto-reviewer. Until it is built, `auto_review` fails closed:
//! every crossing that reaches it is denied as `reviewer_failed`.

use crate::config::Config;
use crate::error::Error;

use super::{ReviewAnswer, ReviewFuture, ReviewRequest, Reviewer};

struct Unavailable;

impl Reviewer for Unavailable {
    fn review<'a>(&'a self, _request: ReviewRequest<'a>) -> ReviewFuture<'a> {
        Box::pin(async { ReviewAnswer::failed("the LLM reviewer is not available in this build") })
    }
}

/// Build the reviewer described by `[auto_review]`.
pub fn from_config(_config: &Config) -> Result<Box<dyn Reviewer>, Error> {
    Ok(Box::new(Unavailable))
}
