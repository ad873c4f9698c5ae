//! RSA key generation (issue #12): the mean time of one 2048-bit key (what `genCA`,
//! `genSignedCert` and `genSelfSignedCert` make) and one 4096-bit key (`genPrivateKey "rsa"`),
//! PKCS#1 PEM included. Each key is random, so each sample averages many keys.

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen");
    group.sample_size(30);
    group.measurement_time(std::time::Duration::from_secs(20));
    group.bench_function("rsa-2048", |b| {
        b.iter(|| capstan_gotmpl::sprig::generate_rsa_key(2048).expect("a key"));
    });
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(30));
    group.bench_function("rsa-4096", |b| {
        b.iter(|| capstan_gotmpl::sprig::generate_rsa_key(4096).expect("a key"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
