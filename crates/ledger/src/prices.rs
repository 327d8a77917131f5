//! Network prices and the exact integer arithmetic that turns token counts into nanotons.
//!
//! Prices live in the network's registry configuration (a file today, the root contract later).
//! Every computation is in integers: adjusted tokens per kind are
//! `floor(raw × coefficient/1000 × multiplier/10000)`, computed as one `u128` product and one
//! division so nothing is lost to intermediate rounding. Prompt and completion are counted net of
//! cached and reasoning tokens, which have their own multipliers.

use serde::{Deserialize, Serialize};

/// An amount of TON in nanotons (1 TON = 10^9 nanotons).
pub type Nanotons = u64;

/// One TON in nanotons.
pub const TON: Nanotons = 1_000_000_000;

/// Multipliers are in units of 1/10000 (10000 = 1.0x).
pub const MULTIPLIER_ONE: u32 = 10_000;

/// Coefficients are per-mille (1000 = 1.0x).
pub const COEFFICIENT_ONE: u32 = 1_000;

/// The prices in force on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// What a client pays per adjusted token, in nanotons.
    pub price_per_token: Nanotons,
    /// What a worker earns per adjusted token, in nanotons (at most `price_per_token`).
    pub worker_fee_per_token: Nanotons,
    /// Multiplier for prompt tokens (net of cached), in 1/10000.
    #[serde(default = "one")]
    pub prompt_multiplier: u32,
    /// Multiplier for cached prompt tokens, in 1/10000.
    #[serde(default = "one")]
    pub cached_multiplier: u32,
    /// Multiplier for completion tokens (net of reasoning), in 1/10000.
    #[serde(default = "one")]
    pub completion_multiplier: u32,
    /// Multiplier for reasoning tokens, in 1/10000.
    #[serde(default = "one")]
    pub reasoning_multiplier: u32,
    /// Stake a client must hold before it is served, in nanotons.
    #[serde(default)]
    pub min_client_stake: Nanotons,
    /// Seconds between a client asking to close and its stake coming back.
    #[serde(default = "default_close_delay")]
    pub close_delay_secs: u64,
}

fn one() -> u32 {
    MULTIPLIER_ONE
}
fn default_close_delay() -> u64 {
    24 * 3600
}

impl Default for Prices {
    /// Cocoon's test network: a client pays 2 nanotons per token, a worker earns 1.
    fn default() -> Self {
        Prices {
            price_per_token: 2,
            worker_fee_per_token: 1,
            prompt_multiplier: MULTIPLIER_ONE,
            cached_multiplier: MULTIPLIER_ONE,
            completion_multiplier: MULTIPLIER_ONE,
            reasoning_multiplier: MULTIPLIER_ONE,
            min_client_stake: TON / 10,
            close_delay_secs: default_close_delay(),
        }
    }
}

/// A price table that breaks the rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PriceError {
    /// A worker would earn more per token than the client pays.
    #[error(
        "worker_fee_per_token ({fee}) exceeds price_per_token ({price}): the proxy would pay out more than it takes"
    )]
    FeeAbovePrice {
        /// The worker fee per token.
        fee: Nanotons,
        /// The price per token.
        price: Nanotons,
    },
    /// Tokens would be free.
    #[error("price_per_token must be positive")]
    ZeroPrice,
}

/// Raw token counts of one request, as the worker's usage reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Prompt tokens, cached ones included.
    pub prompt: u64,
    /// Cached prompt tokens.
    pub cached: u64,
    /// Completion tokens, reasoning ones included.
    pub completion: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
}

/// What one request costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Tokens after coefficient and multipliers.
    pub adjusted_tokens: u64,
    /// Charged to the client.
    pub client: Nanotons,
    /// Earned by the worker (never more than `client`).
    pub worker: Nanotons,
}

impl Cost {
    /// The proxy's commission on this request.
    pub fn commission(&self) -> Nanotons {
        self.client - self.worker
    }
}

impl Prices {
    /// Checks the rules every price table must satisfy.
    pub fn validate(&self) -> Result<(), PriceError> {
        if self.price_per_token == 0 {
            return Err(PriceError::ZeroPrice);
        }
        if self.worker_fee_per_token > self.price_per_token {
            return Err(PriceError::FeeAbovePrice { fee: self.worker_fee_per_token, price: self.price_per_token });
        }
        Ok(())
    }

    /// The exact cost of `usage` served by a worker with `coefficient` (per-mille).
    pub fn cost(&self, usage: &TokenCounts, coefficient: u32) -> Cost {
        let prompt_net = usage.prompt.saturating_sub(usage.cached);
        let completion_net = usage.completion.saturating_sub(usage.reasoning);
        let adjusted = [
            adjust(prompt_net, coefficient, self.prompt_multiplier),
            adjust(usage.cached.min(usage.prompt), coefficient, self.cached_multiplier),
            adjust(completion_net, coefficient, self.completion_multiplier),
            adjust(usage.reasoning.min(usage.completion), coefficient, self.reasoning_multiplier),
        ]
        .iter()
        .fold(0u128, |a, b| a + *b as u128);
        let adjusted_tokens = clamp(adjusted);
        Cost {
            adjusted_tokens,
            client: clamp(adjusted * self.price_per_token as u128),
            worker: clamp(adjusted * self.worker_fee_per_token as u128),
        }
    }

    /// The most a request can cost: `tokens` (max output plus a bound on the prompt) at the
    /// highest multiplier and the client's `max_coefficient`. Reserved before routing.
    pub fn max_cost(&self, tokens: u64, max_coefficient: u32) -> Nanotons {
        let mult = self
            .prompt_multiplier
            .max(self.cached_multiplier)
            .max(self.completion_multiplier)
            .max(self.reasoning_multiplier);
        clamp(adjust(tokens, max_coefficient, mult) as u128 * self.price_per_token as u128)
    }
}

/// `floor(raw × coefficient/1000 × multiplier/10000)`, exactly.
fn adjust(raw: u64, coefficient: u32, multiplier: u32) -> u64 {
    let n = raw as u128 * coefficient as u128 * multiplier as u128;
    clamp(n / (COEFFICIENT_ONE as u128 * MULTIPLIER_ONE as u128))
}

/// Amounts beyond u64 nanotons (18 billion TON) cannot occur in a real network; saturate.
fn clamp(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prices() -> Prices {
        Prices { price_per_token: 20, worker_fee_per_token: 18, ..Prices::default() }
    }

    #[test]
    fn fee_above_price_is_refused() {
        let p = Prices { price_per_token: 1, worker_fee_per_token: 2, ..Prices::default() };
        assert_eq!(p.validate(), Err(PriceError::FeeAbovePrice { fee: 2, price: 1 }));
        assert_eq!(Prices { price_per_token: 0, worker_fee_per_token: 0, ..p }.validate(), Err(PriceError::ZeroPrice));
        assert!(prices().validate().is_ok());
    }

    #[test]
    fn plain_usage_at_coefficient_one() {
        let c = prices().cost(&TokenCounts { prompt: 10, completion: 5, ..Default::default() }, 1000);
        assert_eq!(c, Cost { adjusted_tokens: 15, client: 300, worker: 270 });
        assert_eq!(c.commission(), 30);
    }

    #[test]
    fn cached_and_reasoning_are_netted_and_priced_apart() {
        let p = Prices { cached_multiplier: 2_500, reasoning_multiplier: 20_000, ..prices() };
        // prompt 100 of which 40 cached; completion 30 of which 10 reasoning; coefficient 1.5x.
        let u = TokenCounts { prompt: 100, cached: 40, completion: 30, reasoning: 10 };
        let c = p.cost(&u, 1500);
        // 60*1.5 = 90; 40*1.5*0.25 = 15; 20*1.5 = 30; 10*1.5*2 = 30.
        assert_eq!(c.adjusted_tokens, 165);
        assert_eq!(c.client, 165 * 20);
    }

    #[test]
    fn each_kind_is_floored_on_its_own() {
        // 1 token at 0.999x floors to 0; 3 tokens at 0.5x -> 1.
        let p = prices();
        assert_eq!(p.cost(&TokenCounts { prompt: 1, ..Default::default() }, 999).adjusted_tokens, 0);
        assert_eq!(p.cost(&TokenCounts { prompt: 3, completion: 3, ..Default::default() }, 500).adjusted_tokens, 2);
    }

    #[test]
    fn max_cost_uses_the_highest_multiplier() {
        let p = Prices { completion_multiplier: 30_000, ..prices() };
        assert_eq!(p.max_cost(100, 2000), 100 * 2 * 3 * 20);
    }

    proptest! {
        #[test]
        fn worker_never_earns_more_than_the_client_pays(
            prompt in 0u64..1_000_000, cached in 0u64..1_000_000, completion in 0u64..1_000_000,
            reasoning in 0u64..1_000_000, coef in 1u32..100_000, price in 1u64..1_000_000, fee_pct in 0u64..=100,
        ) {
            let p = Prices { price_per_token: price, worker_fee_per_token: price * fee_pct / 100, ..Prices::default() };
            let u = TokenCounts { prompt, cached, completion, reasoning };
            let c = p.cost(&u, coef);
            prop_assert!(c.worker <= c.client);
            prop_assert_eq!(c.client, c.adjusted_tokens * price);
            // The reservation for the same token total at the same coefficient always covers the cost.
            prop_assert!(p.max_cost(prompt + completion, coef) >= c.client);
        }
    }
}
