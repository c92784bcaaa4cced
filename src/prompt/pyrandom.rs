//! CPython 3.11's `random.Random`, draw for draw: the MT19937 generator seeded as
//! `random.seed(int)` seeds it, and the methods the reference code calls (`shuffle`, `sample`,
//! `choice`, `randint`, `random`), so a seed picks the same rows here as in Python.

/// MT19937 state size in 32-bit words.
const N: usize = 624;
/// MT19937 middle word offset.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// A Mersenne Twister with CPython's seeding and its derived methods (`Lib/random.py` and
/// `Modules/_randommodule.c` of CPython 3.11).
#[derive(Debug, Clone)]
pub struct PyRandom {
    state: [u32; N],
    index: usize,
}

impl PyRandom {
    /// The generator after `random.seed(seed)`: `init_by_array` over the seed's 32-bit words,
    /// least significant first (one word for seeds below 2³², including 0).
    pub fn new(seed: u64) -> PyRandom {
        let low = seed as u32;
        let high = (seed >> 32) as u32;
        let mut generator = PyRandom {
            state: [0; N],
            index: N,
        };
        if high == 0 {
            generator.init_by_array(&[low]);
        } else {
            generator.init_by_array(&[low, high]);
        }
        generator
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..N {
            let previous = self.state[i - 1];
            self.state[i] = 1_812_433_253u32
                .wrapping_mul(previous ^ (previous >> 30))
                .wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let mt = &mut self.state;
        let mut i = 1;
        let mut j = 0;
        for _ in 0..N.max(key.len()) {
            let previous = mt[i - 1];
            mt[i] = (mt[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let previous = mt[i - 1];
            mt[i] = (mt[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        // The most significant bit is 1, which assures a non-zero initial state.
        mt[0] = 0x8000_0000;
    }

    /// Regenerates all 624 words at once, as `genrand_uint32` does when the state is used up.
    fn twist(&mut self) {
        let mt = &mut self.state;
        for k in 0..N {
            let y = (mt[k] & UPPER_MASK) | (mt[(k + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 0 { 0 } else { MATRIX_A };
            mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// The next tempered 32-bit output (`genrand_uint32`).
    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random.getrandbits(k)`: a uniform integer in [0, 2^k). Up to 32 bits come from the top
    /// of one output; wider values take the low word first and truncate the last word.
    ///
    /// # Panics
    /// When `k > 64`.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!(k <= 64, "getrandbits supports at most 64 bits, got {k}");
        match k {
            0 => 0,
            1..=32 => u64::from(self.next_u32() >> (32 - k)),
            _ => {
                let low = u64::from(self.next_u32());
                let high = u64::from(self.next_u32() >> (64 - k));
                low | (high << 32)
            }
        }
    }

    /// `Random._randbelow_with_getrandbits(n)`: a uniform integer in [0, n) by rejection
    /// sampling on `n.bit_length()` bits.
    ///
    /// # Panics
    /// When `n == 0` (Python loops forever there).
    pub fn randbelow(&mut self, n: u64) -> u64 {
        assert!(n > 0, "randbelow needs a positive bound");
        let bits = u64::BITS - n.leading_zeros();
        loop {
            let r = self.getrandbits(bits);
            if r < n {
                return r;
            }
        }
    }

    /// `random.random()`: a float in [0, 1) with 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `random.shuffle(x)`: Fisher–Yates from the end, one `randbelow(i + 1)` per position.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `random.sample(population, k)`: the elements at k distinct positions, in selection
    /// order. Like CPython, a population small next to k is drawn from a shrinking pool, a
    /// large one by rejecting repeated positions; the two consume the generator differently.
    ///
    /// # Panics
    /// When `k` exceeds the population size (Python raises `ValueError`).
    pub fn sample<T: Clone>(&mut self, population: &[T], k: usize) -> Vec<T> {
        let n = population.len();
        assert!(k <= n, "sample of {k} from a population of {n}");
        if n <= sample_set_size(k) {
            let mut pool: Vec<usize> = (0..n).collect();
            (0..k)
                .map(|i| {
                    let j = self.randbelow((n - i) as u64) as usize;
                    let chosen = pool[j];
                    pool[j] = pool[n - i - 1];
                    population[chosen].clone()
                })
                .collect()
        } else {
            let mut selected = std::collections::HashSet::with_capacity(k);
            (0..k)
                .map(|_| {
                    loop {
                        let j = self.randbelow(n as u64) as usize;
                        if selected.insert(j) {
                            return population[j].clone();
                        }
                    }
                })
                .collect()
        }
    }

    /// `random.choice(seq)`: one element, or `None` for an empty slice (where Python raises
    /// before drawing).
    pub fn choice<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        Some(&items[self.randbelow(items.len() as u64) as usize])
    }

    /// `random.randint(a, b)`: a uniform integer in [a, b], both ends included.
    ///
    /// # Panics
    /// When `a > b`, or for the full `i64` range (its width needs 65 bits).
    pub fn randint(&mut self, a: i64, b: i64) -> i64 {
        assert!(a <= b, "randint needs a <= b, got {a} > {b}");
        let width = u64::try_from(i128::from(b) - i128::from(a) + 1)
            .expect("randint supports ranges of fewer than 2^64 integers");
        (i128::from(a) + i128::from(self.randbelow(width))) as i64
    }
}

/// CPython's threshold for `sample`'s pool branch: `21 + 4 ** ceil(log(3k, 4))` for k > 5.
/// 3k is never a power of 4, so the float logarithm's ceiling equals the smallest m with
/// 4^m ≥ 3k for every k a slice can hold well below 2^40; integers avoid libm differences.
fn sample_set_size(k: usize) -> usize {
    if k <= 5 {
        return 21;
    }
    let mut table = 1usize;
    while table < 3 * k {
        table = table.saturating_mul(4);
    }
    21 + table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of the reference `mt19937ar.c` seeded with `init_by_array({0x123,
    /// 0x234, 0x345, 0x456})`, from its published `mt19937ar.out`.
    #[test]
    fn matches_reference_mt19937_outputs() {
        let mut generator = PyRandom {
            state: [0; N],
            index: N,
        };
        generator.init_by_array(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..5).map(|_| generator.next_u32()).collect();
        assert_eq!(
            first,
            [
                1_067_595_299,
                955_945_823,
                477_289_528,
                4_107_218_783,
                4_228_976_476
            ]
        );
    }

    #[test]
    fn sample_set_size_follows_cpython_thresholds() {
        // 21 + 4 ** ceil(log(3k, 4)) evaluated by CPython 3.11.
        assert_eq!(sample_set_size(5), 21);
        assert_eq!(sample_set_size(6), 21 + 64);
        assert_eq!(sample_set_size(21), 21 + 64);
        assert_eq!(sample_set_size(22), 21 + 256);
        assert_eq!(sample_set_size(85), 21 + 256);
        assert_eq!(sample_set_size(86), 21 + 1024);
    }

    #[test]
    fn choice_of_nothing_is_none_and_draws_nothing() {
        let mut drawn = PyRandom::new(7);
        let empty: [u8; 0] = [];
        assert_eq!(drawn.choice(&empty), None);
        assert_eq!(drawn.random(), PyRandom::new(7).random());
    }
}
