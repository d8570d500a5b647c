//! A digest of which cluster each story went to, in insertion order: a change to the clusterer
//! meant to move no story prints the same digest from both builds (`budget`, `bench cluster-loop`).

/// FNV-1a over each cluster number's little-endian bytes, in order.
pub fn cluster_digest(clusters: impl IntoIterator<Item = u64>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for cluster in clusters {
        for byte in cluster.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_every_story_and_the_order() {
        assert_eq!(cluster_digest([]), 0xcbf2_9ce4_8422_2325);
        assert_ne!(cluster_digest([1, 2]), cluster_digest([2, 1]));
        assert_ne!(cluster_digest([1, 2]), cluster_digest([1, 3]));
    }
}
