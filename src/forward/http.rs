//! HTTP forwarding through reqwest (blocking, rustls): a generic webhook (a JSON array of
//! alerts), Splunk's HTTP Event Collector, Elasticsearch's `_bulk` API and OpenTelemetry
//! logs over OTLP/HTTP with JSON encoding. A batch is one request; any 2xx answer
//! acknowledges it, 413 halves the batch, anything else (and no answer) is retried.
//!
//! Splunk with `useAck`: a 2xx only says HEC took the batch. The request goes on this
//! sender's channel (a random GUID, `X-Splunk-Request-Channel`), the answer's `ackId` is
//! polled at `/services/collector/ack?channel=` until the indexer confirms it, and a failed
//! or unanswered poll is polled again rather than the batch resent: once HEC has taken a
//! batch, only its not being confirmed within `ackTimeoutSecs` sends it again.

use super::{Delivered, Kind, SendError, alert_json, stable_id};
use crate::alert::Alert;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

pub struct HttpOptions {
    pub kind: Kind,
    pub url: String,
    pub timeout: Duration,
    pub token: Option<String>,
    pub headers: Vec<(String, String)>,
    pub index: String,
    pub sourcetype: String,
    pub ca_file: Option<PathBuf>,
    /// Splunk's indexer acknowledgement, and how long to wait for one (`useAck`).
    pub ack_timeout: Option<Duration>,
}

pub struct HttpSender {
    client: reqwest::blocking::Client,
    o: HttpOptions,
    /// Splunk with `useAck`: the channel and the URL its acknowledgements are polled at.
    ack: Option<(String, String)>,
}

/// The first pause between acknowledgement polls; doubled up to [`ACK_POLL_MAX`].
const ACK_POLL_FIRST: Duration = Duration::from_millis(100);
const ACK_POLL_MAX: Duration = Duration::from_secs(2);

/// A random (version 4) GUID: a Splunk HEC channel.
fn new_channel() -> String {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        // Without the kernel's randomness: time and pid, unique enough for a channel name.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Where HEC's acknowledgements of `event_url`'s requests are polled: its collector's
/// `/ack` (the event URL's path up to `/collector`, else Splunk's usual one).
fn ack_url(event_url: &str, channel: &str) -> Result<String, String> {
    let mut u = reqwest::Url::parse(event_url).map_err(|e| format!("{event_url}: {e}"))?;
    let path = u.path().to_string();
    let base = match path.find("/collector") {
        Some(i) => &path[..i + "/collector".len()],
        None => "/services/collector",
    };
    u.set_path(&format!("{base}/ack"));
    u.set_query(None);
    u.query_pairs_mut().append_pair("channel", channel);
    Ok(u.to_string())
}

impl HttpSender {
    pub fn new(o: HttpOptions) -> Result<HttpSender, String> {
        let mut b = reqwest::blocking::Client::builder()
            .timeout(o.timeout)
            .connect_timeout(o.timeout)
            .user_agent(concat!("knoxctl/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = &o.ca_file {
            let pem = std::fs::read(p).map_err(|e| format!("caFile {}: {e}", p.display()))?;
            for c in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("caFile {}: {e}", p.display()))?
            {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        let ack = match (o.kind, o.ack_timeout) {
            (Kind::Splunk, Some(_)) => {
                let channel = new_channel();
                let url = ack_url(&o.url, &channel)?;
                Some((channel, url))
            }
            _ => None,
        };
        Ok(HttpSender { client, o, ack })
    }

    fn authorized(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        let mut req = req;
        if let Some(t) = &self.o.token {
            let scheme = match self.o.kind {
                Kind::Splunk => "Splunk",
                Kind::Elasticsearch => "ApiKey",
                _ => "Bearer",
            };
            req = req.header(reqwest::header::AUTHORIZATION, format!("{scheme} {t}"));
        }
        if let Some((channel, _)) = &self.ack {
            req = req.header("X-Splunk-Request-Channel", channel.as_str());
        }
        for (k, v) in &self.o.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req
    }

    /// Polls HEC until the indexer confirms `ack_id` (Ok), or the acknowledgement timeout
    /// passes (Retry: the batch is sent again, with the same AlertIDs). A poll that fails
    /// is polled again: the batch was taken, and sending it again would duplicate it.
    fn wait_for_ack(&self, ack_id: u64, shown: &str) -> Result<(), SendError> {
        let (Some((_, url)), Some(limit)) = (&self.ack, self.o.ack_timeout) else {
            return Ok(());
        };
        let deadline = std::time::Instant::now() + limit;
        let mut pause = ACK_POLL_FIRST;
        loop {
            let resp = self
                .authorized(self.client.post(url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json!({"acks": [ack_id]}).to_string())
                .send();
            let last = match resp {
                Ok(r) if r.status().is_success() => {
                    let v: Value =
                        serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or_default();
                    if v["acks"][ack_id.to_string()] == Value::Bool(true) {
                        return Ok(());
                    }
                    "not indexed yet".to_string()
                }
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => chain(e.without_url()),
            };
            if std::time::Instant::now() + pause > deadline {
                return Err(SendError::Retry(format!(
                    "POST {shown}: Splunk did not acknowledge ackId {ack_id} within {}s \
                     ({last}): sending the batch again",
                    limit.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(ACK_POLL_MAX);
        }
    }
}

/// Epoch seconds with the fraction UpdatedTime carries (milliseconds), Splunk's `time`.
fn epoch_fraction(a: &Alert) -> f64 {
    let frac = a
        .updated_time
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('Z'))
        .and_then(|f| format!("0.{}", &f[..f.len().min(3)]).parse::<f64>().ok())
        .unwrap_or(0.0);
    a.timestamp as f64 + frac
}

/// Nanoseconds since the epoch as OTLP's JSON wants them (a decimal string).
fn unix_nanos(a: &Alert) -> String {
    let nanos = a
        .updated_time
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('Z'))
        .filter(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()))
        .map_or(0, |f| {
            f.parse::<u64>().unwrap_or(0) * 10u64.pow(9 - f.len() as u32)
        });
    (a.timestamp.max(0) as u128 * 1_000_000_000 + nanos as u128).to_string()
}

/// The request body and its content type.
pub fn body(
    kind: Kind,
    batch: &[(i64, Alert)],
    index: &str,
    sourcetype: &str,
) -> (Vec<u8>, &'static str) {
    let mut out = Vec::new();
    match kind {
        Kind::Webhook | Kind::Syslog => {
            let items: Vec<Value> = batch.iter().map(|(id, a)| alert_json(*id, a)).collect();
            serde_json::to_writer(&mut out, &items).expect("JSON to memory");
            (out, "application/json")
        }
        Kind::Splunk => {
            for (id, a) in batch {
                let e = json!({
                    "time": epoch_fraction(a),
                    "host": a.host_name,
                    "source": "knoxctl",
                    "sourcetype": sourcetype,
                    "event": alert_json(*id, a),
                    // Indexed: a resent event is found (and deduplicated) by it cheaply.
                    "fields": {"AlertID": stable_id(*id, a)},
                });
                serde_json::to_writer(&mut out, &e).expect("JSON to memory");
                out.push(b'\n');
            }
            (out, "application/json")
        }
        Kind::Elasticsearch => {
            for (id, a) in batch {
                let action = json!({"index": {"_index": index, "_id": stable_id(*id, a)}});
                serde_json::to_writer(&mut out, &action).expect("JSON to memory");
                out.push(b'\n');
                let mut doc = alert_json(*id, a);
                doc["@timestamp"] = Value::String(if a.updated_time.is_empty() {
                    crate::alert::format_rfc3339(a.timestamp, 0)
                } else {
                    a.updated_time.clone()
                });
                serde_json::to_writer(&mut out, &doc).expect("JSON to memory");
                out.push(b'\n');
            }
            (out, "application/x-ndjson")
        }
        Kind::Otlp => {
            let records: Vec<Value> = batch.iter().map(|(id, a)| otlp_record(*id, a)).collect();
            let host = batch.first().map_or("", |(_, a)| a.host_name.as_str());
            let payload = json!({"resourceLogs": [{
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "knoxctl"}},
                    {"key": "host.name", "value": {"stringValue": host}},
                ]},
                "scopeLogs": [{
                    "scope": {"name": "knoxctl", "version": env!("CARGO_PKG_VERSION")},
                    "logRecords": records,
                }],
            }]});
            serde_json::to_writer(&mut out, &payload).expect("JSON to memory");
            (out, "application/json")
        }
    }
}

/// One OTLP log record: the alert's message as body, every field as an attribute (the
/// alert's own names), its stable id as `log.record.uid`.
fn otlp_record(id: i64, a: &Alert) -> Value {
    let (number, text) = if a.action == "Block" {
        (13, "WARN")
    } else {
        (9, "INFO")
    };
    let mut attributes =
        vec![json!({"key": "log.record.uid", "value": {"stringValue": stable_id(id, a)}})];
    if let Value::Object(m) = alert_json(id, a) {
        for (k, v) in m {
            let value = match v {
                Value::Number(n) => json!({"intValue": n.to_string()}),
                Value::String(s) => json!({"stringValue": s}),
                Value::Array(items) => {
                    json!({"arrayValue": {"values": items.into_iter().map(|i| json!({"stringValue": i.as_str().unwrap_or_default()})).collect::<Vec<_>>()}})
                }
                other => json!({"stringValue": other.to_string()}),
            };
            attributes.push(json!({"key": k, "value": value}));
        }
    }
    let t = unix_nanos(a);
    json!({
        "timeUnixNano": t,
        "observedTimeUnixNano": t,
        "severityNumber": number,
        "severityText": text,
        "body": {"stringValue": if a.message.is_empty() { format!("{} {} {}", a.action, a.operation, a.resource) } else { a.message.clone() }},
        "attributes": attributes,
    })
}

/// What a 2xx answer still refuses: Elasticsearch's per-item errors (429 and 5xx items are
/// retried, the batch being idempotent by `_id`), OTLP's partial success.
fn check_answer(kind: Kind, text: &str) -> Result<Delivered, SendError> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Ok(Delivered::default());
    };
    match kind {
        Kind::Elasticsearch if v["errors"] == Value::Bool(true) => {
            let mut rejected = 0;
            let mut why = None;
            for item in v["items"].as_array().into_iter().flatten() {
                let Some(r) = item.as_object().and_then(|o| o.values().next()) else {
                    continue;
                };
                let status = r["status"].as_u64().unwrap_or(0);
                if status == 429 || status >= 500 {
                    return Err(SendError::Retry(format!(
                        "Elasticsearch refused an item for now (status {status}): {}",
                        r["error"]["reason"].as_str().unwrap_or("")
                    )));
                }
                if status >= 300 {
                    rejected += 1;
                    why.get_or_insert_with(|| {
                        format!(
                            "Elasticsearch rejected an alert (status {status}): {}",
                            r["error"]["reason"].as_str().unwrap_or("")
                        )
                    });
                }
            }
            Ok(Delivered { rejected, why })
        }
        Kind::Otlp => {
            let p = &v["partialSuccess"];
            let rejected = match &p["rejectedLogRecords"] {
                Value::String(s) => s.parse().unwrap_or(0),
                n => n.as_u64().unwrap_or(0),
            };
            Ok(Delivered {
                rejected,
                why: (rejected > 0).then(|| {
                    format!(
                        "the OTLP receiver rejected {rejected} log records: {}",
                        p["errorMessage"].as_str().unwrap_or("")
                    )
                }),
            })
        }
        _ => Ok(Delivered::default()),
    }
}

/// An error and its causes (`error sending request: operation timed out`).
fn chain(e: impl std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

impl super::Sender for HttpSender {
    fn send(&mut self, batch: &[(i64, Alert)]) -> Result<Delivered, SendError> {
        let o = &self.o;
        let (data, content_type) = body(o.kind, batch, &o.index, &o.sourcetype);
        let mut req = self.authorized(
            self.client
                .post(&o.url)
                .header(reqwest::header::CONTENT_TYPE, content_type),
        );
        if o.kind == Kind::Webhook
            && let (Some((first, a)), Some((last, _))) = (batch.first(), batch.last())
        {
            req = req.header(
                "Idempotency-Key",
                format!("{}+{}", stable_id(*first, a), last - first),
            );
        }
        // Errors name the URL without its credentials, never a header.
        let shown = super::Target::Http(o.url.clone()).display();
        let resp = req
            .body(data)
            .send()
            .map_err(|e| SendError::Retry(format!("POST {shown}: {}", chain(e.without_url()))))?;
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        if status.is_success() {
            if self.ack.is_some() {
                // HEC answers {"text":"Success","code":0,"ackId":N} on an ack-enabled token.
                let v: Value = serde_json::from_str(&text).unwrap_or_default();
                match v["ackId"].as_u64() {
                    Some(ack_id) => self.wait_for_ack(ack_id, &shown)?,
                    None => tracing::warn!(
                        url = %shown,
                        "useAck: Splunk answered without an ackId (indexer acknowledgement is \
                         off for this token): the batch counts as sent at its 200"
                    ),
                }
            }
            return check_answer(o.kind, &text);
        }
        let snippet: String = text.chars().take(200).collect();
        let msg = format!("POST {shown}: HTTP {status}: {}", snippet.trim());
        if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
            return Err(SendError::TooLarge(msg));
        }
        Err(SendError::Retry(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            timestamp: 1_716_917_632,
            updated_time: "2024-05-28T17:33:52.123456789Z".into(),
            host_name: "vm1".into(),
            action: "Block".into(),
            operation: "Process".into(),
            resource: "/usr/bin/apt".into(),
            host_pid: 42,
            atags: vec!["a".into()],
            ..Default::default()
        }
    }

    #[test]
    fn bodies_follow_each_receivers_format() {
        let batch = vec![(5, alert()), (6, alert())];
        let (b, _) = body(Kind::Webhook, &batch, "", "");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v[1]["AlertID"], "vm1-1716917632-6");
        assert_eq!(v[0]["Resource"], "/usr/bin/apt");

        let (b, _) = body(Kind::Splunk, &batch, "", "knoxctl:alert");
        let first: Value =
            serde_json::from_str(std::str::from_utf8(&b).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["sourcetype"], "knoxctl:alert");
        assert_eq!(first["time"], 1_716_917_632.123);
        assert_eq!(first["event"]["HostPID"], 42);
        assert_eq!(first["fields"]["AlertID"], "vm1-1716917632-5");
        assert_eq!(first["event"]["AlertID"], "vm1-1716917632-5");

        let (b, ct) = body(Kind::Elasticsearch, &batch, "idx", "");
        assert_eq!(ct, "application/x-ndjson");
        let lines: Vec<Value> = std::str::from_utf8(&b)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["index"]["_id"], "vm1-1716917632-5");
        assert_eq!(lines[0]["index"]["_index"], "idx");
        assert_eq!(lines[1]["@timestamp"], "2024-05-28T17:33:52.123456789Z");

        let (b, _) = body(Kind::Otlp, &batch, "", "");
        let v: Value = serde_json::from_slice(&b).unwrap();
        let r = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1];
        assert_eq!(r["timeUnixNano"], "1716917632123456789");
        assert_eq!(r["severityText"], "WARN");
        let attrs = r["attributes"].as_array().unwrap();
        let get = |k: &str| {
            attrs
                .iter()
                .find(|a| a["key"] == k)
                .map(|a| a["value"].clone())
        };
        assert_eq!(
            get("log.record.uid").unwrap()["stringValue"],
            "vm1-1716917632-6"
        );
        assert_eq!(get("HostPID").unwrap()["intValue"], "42");
        assert_eq!(
            get("ATags").unwrap()["arrayValue"]["values"][0]["stringValue"],
            "a"
        );
    }

    #[test]
    fn splunk_channels_and_ack_urls() {
        let c = new_channel();
        assert_eq!(c.len(), 36, "{c}");
        assert_eq!(c.as_bytes()[14], b'4', "version 4: {c}");
        assert_ne!(c, new_channel());
        assert_eq!(
            ack_url("https://s:8088/services/collector/event", "ch").unwrap(),
            "https://s:8088/services/collector/ack?channel=ch"
        );
        assert_eq!(
            ack_url("https://s/proxy/services/collector/event/1.0?x=1", "ch").unwrap(),
            "https://s/proxy/services/collector/ack?channel=ch"
        );
        assert_eq!(
            ack_url("http://s:8088/hec", "ch").unwrap(),
            "http://s:8088/services/collector/ack?channel=ch"
        );
    }

    #[test]
    fn answers_are_checked() {
        assert_eq!(
            check_answer(Kind::Elasticsearch, r#"{"errors":false,"items":[]}"#).unwrap(),
            Delivered::default()
        );
        let r = check_answer(
            Kind::Elasticsearch,
            r#"{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"reason":"mapper"}}}]}"#,
        )
        .unwrap();
        assert_eq!(r.rejected, 1);
        assert!(r.why.unwrap().contains("mapper"));
        assert!(
            check_answer(
                Kind::Elasticsearch,
                r#"{"errors":true,"items":[{"index":{"status":429}}]}"#
            )
            .is_err()
        );
        let r = check_answer(
            Kind::Otlp,
            r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}}"#,
        )
        .unwrap();
        assert_eq!(r.rejected, 2);
        assert_eq!(
            check_answer(Kind::Otlp, "{}").unwrap(),
            Delivered::default()
        );
    }
}
