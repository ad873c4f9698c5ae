//! Kubernetes manifest streams: YAML 1.1 parsing into JSON values and stable YAML output
