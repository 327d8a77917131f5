//! cocoon-openai
