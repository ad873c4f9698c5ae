//! Loads Helm charts (directories and `.tgz`), computes values, renders templates with
//! [`capstan_gotmpl`] and assembles the manifest stream exactly as `helm template` prints it.

pub mod yaml;
