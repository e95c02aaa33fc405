package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class InitialisationTest {
    @Test
    void sameSeedGivesBitIdenticalParametersOnAnyThread() throws Exception {
        Model m = Zoo.parse("fcn(depth=2,width=64,out=10)");
        int[] in = {28, 28};
        Params a = m.init(42, in, DType.F32);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            for (int rep = 0; rep < 3; rep++) {
                Future<Params> f = pool.submit(() -> m.init(42, in, DType.F32));
                Params b = f.get();
                for (String k : a.tensors().keySet()) {
                    Fixtures.assertSameElements(k, b.get(k).toFloatArray(), a.get(k).toFloatArray());
                }
            }
        } finally {
            pool.shutdown();
        }
        Params other = m.init(43, in, DType.F32);
        assertThat(other.get("1_dense/w").toFloatArray()).isNotEqualTo(a.get("1_dense/w").toFloatArray());
    }

    /** Params.zeros: every spec's path and shape, in order, every element zero and known finite (no scan). */
    @Test
    void zerosHaveTheSpecsShapesAndNothingElse() {
        Model m = Zoo.parse("cnn(depth=2,channels=8,out=3)");
        int[] in = {6, 6, 2};
        java.util.List<ParamSpec> specs = m.paramSpecs(in);
        try (Params z = Params.zeros(specs, DType.F64); Params drawn = m.init(1, in, DType.F64)) {
            assertThat(z.tensors().keySet()).containsExactlyElementsOf(drawn.tensors().keySet());
            for (ParamSpec s : specs) {
                Tensor t = z.get(s.path());
                assertThat(t.shape()).as(s.path()).containsExactly(s.shape());
                assertThat(t.dtype()).isEqualTo(DType.F64);
                assertThat(t.knownFinite()).as(s.path()).isTrue();
                for (int i = 0; i < t.size(); i++) {
                    assertThat(t.getFlat(i)).isZero();
                }
            }
        }
    }

    /** The stream that parallel initialisation starts anywhere is the JDK's SplittableRandom, draw by draw. */
    @Test
    void splitMixIsTheJdksSplittableRandomFromAnyDraw() {
        java.util.Random seeds = new java.util.Random(7);
        for (int trial = 0; trial < 20; trial++) {
            long seed = trial == 0 ? 0 : seeds.nextLong();
            java.util.SplittableRandom jdk = new java.util.SplittableRandom(seed);
            double[] expected = new double[1000];
            for (int k = 0; k < expected.length; k++) {
                expected[k] = jdk.nextDouble();
            }
            for (int skip : new int[] {0, 1, 2, 17, 998}) {
                Params.SplitMix64 r = new Params.SplitMix64(seed, skip);
                for (int k = skip; k < expected.length; k++) {
                    assertThat(Double.doubleToRawLongBits(r.nextDouble())).as("seed %d draw %d", seed, k)
                            .isEqualTo(Double.doubleToRawLongBits(expected[k]));
                }
            }
        }
    }

    /**
     * Tensors large enough to be drawn in chunks on several threads (odd sizes too) get exactly the numbers of the
     * one-threaded definition: SplittableRandom(seed ^ hash(path)·γ), Box-Muller with StrictMath, pair by pair.
     */
    @Test
    void chunkedInitialisationEqualsTheSequentialDefinition() {
        for (int[] shape : new int[][] {{300, 200}, {3, 33333}, {1}, {5}, {70001}}) {
            for (DType dtype : DType.values()) {
                ParamSpec spec = new ParamSpec("3_dense/w", shape, 0.7, 0.25);
                try (Params p = Params.initialise(java.util.List.of(spec), 11, dtype)) {
                    Tensor t = p.get("3_dense/w");
                    java.util.SplittableRandom r = new java.util.SplittableRandom(11 ^ (Params.fnv1a64("3_dense/w")
                            * 0x9E3779B97F4A7C15L));
                    int n = t.size();
                    for (int i = 0; i < n; i += 2) {
                        double u1 = 1.0 - r.nextDouble();
                        double u2 = r.nextDouble();
                        double radius = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
                        double angle = 2.0 * StrictMath.PI * u2;
                        double a = 0.25 + 0.7 * radius * StrictMath.cos(angle);
                        double b = 0.25 + 0.7 * radius * StrictMath.sin(angle);
                        assertThat(t.getFlat(i)).as("%s element %d", dtype, i)
                                .isEqualTo(dtype == DType.F32 ? (double) (float) a : a);
                        if (i + 1 < n) {
                            assertThat(t.getFlat(i + 1)).as("%s element %d", dtype, i + 1)
                                    .isEqualTo(dtype == DType.F32 ? (double) (float) b : b);
                        }
                    }
                }
            }
        }
    }

    /** A golden value fixes the generator itself: a change of algorithm would change it on every machine. */
    @Test
    void generatorIsPinned() {
        Params p = Params.initialise(java.util.List.of(new ParamSpec("w", new int[] {3}, 1.0, 0.0)), 0, DType.F64);
        double[] v = p.get("w").toDoubleArray();
        Params q = Params.initialise(java.util.List.of(new ParamSpec("w", new int[] {3}, 1.0, 0.0)), 0, DType.F64);
        assertThat(q.get("w").toDoubleArray()).isEqualTo(v);
        assertThat(v).doesNotContain(0.0);
    }

    /**
     * NTK parameterisation, ReLU, σ_w, σ_b: the pre-activation variance follows q¹ = σ_w²‖x‖²/d + σ_b²,
     * q^{l+1} = σ_w² q^l / 2 + σ_b², and the readout has variance σ_w² q^L / 2 + σ_b². The empirical variance
     * of a wide network's outputs over seeds, outputs and orthogonal inputs must match within 5%.
     */
    @Test
    void outputVarianceMatchesTheParameterisation() {
        double sw = 1.5;
        double sb = 0.05;
        int depth = 2;
        int d = 16;
        Model m = Zoo.parse("fcn(depth=" + depth + ",width=512,out=10,w_std=" + sw + ",b_std=" + sb + ")");
        // inputs: scaled basis vectors, ‖x‖² = d, so q¹ = σ_w² + σ_b²
        int n = 8;
        Tensor x = Tensor.zeros(DType.F64, n, d);
        for (int i = 0; i < n; i++) {
            x.set(Math.sqrt(d), i, i);
        }
        double q = sw * sw + sb * sb;
        for (int l = 1; l < depth; l++) {
            q = sw * sw * q / 2 + sb * sb;
        }
        double predicted = sw * sw * q / 2 + sb * sb;
        double sumSq = 0;
        long count = 0;
        for (int seed = 0; seed < 60; seed++) {
            try (Params p = m.init(seed, new int[] {d}, DType.F64); Tensor y = m.apply(p, x)) {
                for (double v : y.toDoubleArray()) {
                    sumSq += v * v;
                    count++;
                }
            }
        }
        double empirical = sumSq / count;
        System.out.printf("fcn output variance: empirical %.4f, predicted %.4f%n", empirical, predicted);
        assertThat(empirical / predicted).as("empirical %s vs predicted %s", empirical, predicted)
                .isBetween(0.95, 1.05);
    }
}
