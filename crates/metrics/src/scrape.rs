//! One scrape: the metric families a role describes, and their OpenMetrics text.

use crate::Buckets;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `content-type` of [`Scrape::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Buckets),
}

#[derive(Debug, Clone)]
struct Family {
    name: String,
    help: String,
    kind: MetricType,
    samples: Vec<(Labels, Value)>,
}

/// The metric families of one scrape, in the order first described. A family is named once;
/// describing it again with other labels adds a sample to it.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    families: Vec<Family>,
}

fn owned(labels: &[(&str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Scrape {
    /// An empty scrape.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&mut self, name: &str, help: &str, kind: MetricType, labels: &[(&str, &str)], value: Value) {
        let sample = (owned(labels), value);
        match self.families.iter_mut().find(|f| f.name == name) {
            Some(f) => f.samples.push(sample),
            None => self.families.push(Family {
                name: name.to_string(),
                help: help.to_string(),
                kind,
                samples: vec![sample],
            }),
        }
    }

    /// A counter `name` (written `name_total`): a count that only grows while the process runs.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.add(name, help, MetricType::Counter, labels, Value::Counter(value));
    }

    /// A gauge: a value that goes up and down.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Gauge, labels, Value::Gauge(value));
    }

    /// A histogram (`name_bucket`, `name_sum`, `name_count`).
    pub fn histogram(&mut self, name: &str, help: &str, labels: &[(&str, &str)], buckets: Buckets) {
        self.add(name, help, MetricType::Histogram, labels, Value::Histogram(buckets));
    }

    /// The OpenMetrics text of this scrape (ends with `# EOF`).
    pub fn render(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Described(self.families)));
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error leaves what was written.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// The families of one scrape, handed to the encoder.
#[derive(Debug)]
struct Described(Vec<Family>);

impl Collector for Described {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            let mut metric = encoder.encode_descriptor(&f.name, &f.help, None, f.kind)?;
            for (labels, value) in &f.samples {
                if labels.is_empty() {
                    encode_value(&mut metric, value)?;
                } else {
                    encode_value(&mut metric.encode_family(labels)?, value)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(sample: &mut MetricEncoder<'_>, value: &Value) -> Result<(), std::fmt::Error> {
    match value {
        Value::Counter(v) => sample.encode_counter::<NoLabelSet, _, u64>(v, None),
        Value::Gauge(v) => sample.encode_gauge(v),
        Value::Histogram(b) => sample.encode_histogram::<NoLabelSet>(b.sum, b.count(), &b.pairs(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_in_the_openmetrics_text_format() {
        let mut s = Scrape::new();
        s.counter("cocoon_test_requests", "Requests.", &[("outcome", "ok")], 3);
        s.counter("cocoon_test_requests", "Requests.", &[("outcome", "failed")], 1);
        s.gauge("cocoon_test_in_flight", "In flight.", &[], 2.0);
        let mut b = Buckets::new(&[0.1, 1.0]);
        b.add(0.05, 1, 0.05);
        b.add(5.0, 1, 5.0);
        s.histogram("cocoon_test_latency_seconds", "Latency.", &[("model", "m\"x")], b);
        let text = s.render();
        for line in [
            "# TYPE cocoon_test_requests counter",
            "cocoon_test_requests_total{outcome=\"ok\"} 3",
            "cocoon_test_requests_total{outcome=\"failed\"} 1",
            "cocoon_test_in_flight 2.0",
            "cocoon_test_latency_seconds_bucket{le=\"0.1\",model=\"m\\\"x\"} 1",
            "cocoon_test_latency_seconds_bucket{le=\"+Inf\",model=\"m\\\"x\"} 2",
            "cocoon_test_latency_seconds_count{model=\"m\\\"x\"} 2",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE cocoon_test_requests ").count(), 1);
    }
}
