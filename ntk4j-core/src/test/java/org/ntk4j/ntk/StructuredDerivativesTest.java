package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class StructuredDerivativesTest {
    /**
     * Weights and filters take the structured (A ⊗ D) path, biases the structured rows of their add; a parameter
     * shared by several consumers (attention's projections are not, but a layer norm's scale meets data once)
     * would take the dense fallback.
     */
    @Test
    void classification() {
        check("fcn(depth=2,width=8,out=3)", new int[] {5}, List.of("1_dense/w", "1_dense/b", "3_dense/w",
                "3_dense/b", "5_dense/w", "5_dense/b"), List.of());
        check("cnn(depth=1,channels=4,out=3)", new int[] {4, 4, 1},
                List.of("1_conv/w", "1_conv/b", "4_dense/w", "4_dense/b"), List.of());
    }

    private static void check(String spec, int[] in, List<String> structured, List<String> dense) {
        Model m = Zoo.parse(spec);
        List<ParamSpec> specs = m.paramSpecs(in);
        ParameterConsumers pc = new ParameterConsumers(m.trace(3, in, DType.F64), specs.size());
        List<String> s = new ArrayList<>();
        List<String> d = new ArrayList<>();
        for (int p = 0; p < specs.size(); p++) {
            StructuredDerivatives.Structured st = StructuredDerivatives.classify(pc, p);
            (st != null ? s : d).add(specs.get(p).path());
        }
        assertThat(s).containsExactlyElementsOf(structured);
        assertThat(d).containsExactlyElementsOf(dense);
        // the NTK-parameterisation scale σ_w/√fan_in is found on the path to the dense weights' consumer
        if (spec.startsWith("fcn")) {
            StructuredDerivatives.Structured w = StructuredDerivatives.classify(pc, 0);
            assertThat(w.factor()).isEqualTo(1.0); // the scale multiplies the output, not the weight
        }
    }

    /**
     * The full sandwich of a side with itself ({@link StructuredDerivatives#sandwichUpper}): the blocks n1 ≤ n2 as
     * the row order gives them, zero below the example diagonal (the kernel's final mirror writes those), in
     * float64 (1e-10) and float32 (1e-5 of the largest entry), with O and R above 1; its FLOPs N(N+1)·O²·R·F.
     */
    @Test
    void theSandwichOfOneSideWithItselfComputesTheUpperBlocks() {
        int n = 5;
        int o = 3;
        int r = 4;
        int f = 6;
        for (DType dt : new DType[] {DType.F64, DType.F32}) {
            try (Tensor a = Tensor.randomNormal(dt, 31, n, r, 7); Tensor d = Tensor.randomNormal(dt, 32, o, n, r, f);
                 Tensor w = StructuredDerivatives.sandwichOrder(a, d, a, d, OutputPairs.FULL);
                 Tensor ref = StructuredDerivatives.rowOrder(a, d, a, d, OutputPairs.FULL)) {
                assertThat(w.shape()).containsExactly(n, o, n, o);
                double scale = 0;
                for (int i = 0; i < ref.size(); i++) {
                    scale = Math.max(scale, Math.abs(ref.getFlat(i)));
                }
                double tol = dt == DType.F64 ? 1e-10 : 1e-5 * scale;
                for (int i = 0; i < w.size(); i++) {
                    int n1 = i / (o * n * o);
                    int n2 = i / o % n;
                    if (n1 > n2) {
                        assertThat(w.getFlat(i)).as("%s below the example diagonal at %d", dt, i).isZero();
                    } else {
                        assertThat(w.getFlat(i)).as("%s at %d", dt, i).isCloseTo(ref.getFlat(i),
                                org.assertj.core.data.Offset.offset(tol));
                    }
                }
            }
        }
        double k = StructuredDerivatives.sandwichFlops(n, n, o, r, 7, f, OutputPairs.FULL, true)
                - StructuredDerivatives.sandwichFlops(n, n, o, r, 7, f, OutputPairs.FULL, false);
        // (the activation Gram, [N·R] = 20 rows over C = 7, is below the symmetric product's sizes: the same GEMM)
        assertThat(k).as("the last product's blocks n1 ≤ n2 only")
                .isEqualTo((double) n * (n + 1) * o * o * r * f - 2.0 * n * n * o * o * r * f);
    }

    /** Both evaluation orders of the matrix-Jacobian-Jacobian-matrix product give the same block. */
    @Test
    void gramAndRowOrdersAgree() {
        Tensor a1 = Tensor.randomNormal(DType.F64, 1, 3, 4, 5);
        Tensor d1 = Tensor.randomNormal(DType.F64, 2, 2, 3, 4, 6);
        Tensor a2 = Tensor.randomNormal(DType.F64, 3, 2, 4, 5);
        Tensor d2 = Tensor.randomNormal(DType.F64, 4, 2, 2, 4, 6);
        // each example with itself pairs x2's examples with x1's: the same N
        Tensor a3 = Tensor.randomNormal(DType.F64, 5, 3, 4, 5);
        Tensor d3 = Tensor.randomNormal(DType.F64, 6, 2, 3, 4, 6);
        for (OutputPairs pairs : OutputPairs.values()) {
            Tensor b = pairs.perExample() ? a3 : a2;
            Tensor e = pairs.perExample() ? d3 : d2;
            Tensor g = StructuredDerivatives.gramOrder(a1, d1, b, e, pairs);
            Tensor r = StructuredDerivatives.rowOrder(a1, d1, b, e, pairs);
            Tensor w = StructuredDerivatives.sandwichOrder(a1, d1, b, e, pairs);
            assertThat(w.shape()).isEqualTo(r.shape());
            for (int i = 0; i < w.size(); i++) {
                assertThat(w.getFlat(i)).isCloseTo(r.getFlat(i), org.assertj.core.data.Offset.offset(1e-10));
            }
            assertThat(g.shape()).isEqualTo(r.shape());
            for (int i = 0; i < g.size(); i++) {
                assertThat(g.getFlat(i)).isCloseTo(r.getFlat(i), org.assertj.core.data.Offset.offset(1e-10));
            }
        }
        // the cost model prefers the Gram order for dense layers (R = 1) and the row order when R² ≫ C·F
        assertThat(StructuredDerivatives.gramFlops(16, 16, 8, 1, 2048, 2048, OutputPairs.FULL, true))
                .isLessThan(StructuredDerivatives.rowFlops(16, 16, 8, 1, 2048, 2048, OutputPairs.FULL, true));
        assertThat(StructuredDerivatives.gramFlops(16, 16, 8, 1024, 9, 4, OutputPairs.FULL, true))
                .isGreaterThan(StructuredDerivatives.rowFlops(16, 16, 8, 1024, 9, 4, OutputPairs.FULL, true));
    }

    /**
     * x2 = x1, one tensor for both sides: the row order contracts the rows with themselves as a symmetric Gram
     * (sizes where it applies: N·O = 64, or N = 64 traced, rows of C·F = 288), equal to the Gram order's block,
     * exactly symmetric, its FLOPs m(m+1)·C·F instead of 2m²·C·F. So are the Gram and sandwich orders' Grams of
     * a side with itself (GA over C = 288, and GD over F = 288 for the full kernel), against the row order.
     */
    @Test
    void theRowOrderOfOneSideWithItselfIsASymmetricGram() {
        for (OutputPairs pairs : new OutputPairs[] {OutputPairs.TRACE, OutputPairs.FULL}) {
            boolean traced = pairs == OutputPairs.TRACE;
            int n = traced ? 64 : 8;
            int o = 8;
            try (Tensor a = Tensor.randomNormal(DType.F64, 21, n, 3, 12);
                 Tensor d = Tensor.randomNormal(DType.F64, 22, o, n, 3, 24);
                 Tensor g = StructuredDerivatives.gramOrder(a, d, a, d, pairs);
                 Tensor r = StructuredDerivatives.rowOrder(a, d, a, d, pairs)) {
                assertThat(org.ntk4j.cpu.DotGeneralKernel.isSymmetricGram(new int[] {n, o, 12, 24},
                        StructuredDerivatives.rowContraction(pairs), new int[0])).isTrue();
                assertThat(r.shape()).isEqualTo(g.shape());
                for (int i = 0; i < g.size(); i++) {
                    // the Gram order's kernel of a side with itself: the blocks n1 ≤ n2 ([8, 8, 8, 8]; traced,
                    // [64, 64])
                    if (traced ? i / n > i % n : i / (o * n * o) > i / o % n) {
                        assertThat(g.getFlat(i)).as("below the example diagonal").isZero();
                    } else {
                        assertThat(r.getFlat(i)).isCloseTo(g.getFlat(i),
                                org.assertj.core.data.Offset.offset(1e-10 * Math.max(1, Math.abs(g.getFlat(i)))));
                    }
                }
                int m = traced ? n : n * o;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < i; j++) {
                        assertThat(r.getFlat(i * m + j)).isEqualTo(r.getFlat(j * m + i));
                    }
                }
                double rows = 2.0 * n * o * 3 * 12 * 24;
                assertThat(StructuredDerivatives.rowFlops(n, n, o, 3, 12, 24, pairs, true))
                        .isEqualTo(rows + (double) m * (m + 1) * (traced ? o * 288 : 288));
                assertThat(StructuredDerivatives.rowFlops(n, n, o, 3, 12, 24, pairs, false))
                        .isEqualTo(2 * rows + 2.0 * m * m * (traced ? o * 288 : 288));
            }
            // GA = A·Aᵀ over C = 288 ([N·R] = 192 rows) and GD over F = 288 ([N·O·R] = 192 rows): symmetric Grams
            try (Tensor a = Tensor.randomNormal(DType.F64, 23, 24, 8, 288);
                 Tensor d = Tensor.randomNormal(DType.F64, 24, 1, 24, 8, 288);
                 Tensor g = StructuredDerivatives.gramOrder(a, d, a, d, pairs);
                 Tensor w = StructuredDerivatives.sandwichOrder(a, d, a, d, pairs);
                 Tensor a2 = a.copy(); Tensor d2 = d.copy();
                 Tensor reference = StructuredDerivatives.gramOrder(a, d, a2, d2, pairs)) {
                assertThat(org.ntk4j.cpu.DotGeneralKernel.isSymmetricGram(a.shape(), new int[] {2}, new int[0]))
                        .isTrue();
                for (int i = 0; i < g.size(); i++) {
                    double tol = 1e-10 * Math.max(1, Math.abs(reference.getFlat(i)));
                    // the Gram order of a side with itself, and the full sandwich order, compute the blocks
                    // n1 ≤ n2 only ([24, 1, 24, 1], traced [24, 24]); the traced sandwich all of them
                    if (i / 24 > i % 24) {
                        assertThat(g.getFlat(i)).as("below the example diagonal").isZero();
                        if (traced) {
                            assertThat(w.getFlat(i)).isCloseTo(reference.getFlat(i),
                                    org.assertj.core.data.Offset.offset(tol));
                        } else {
                            assertThat(w.getFlat(i)).as("below the example diagonal").isZero();
                        }
                    } else {
                        assertThat(g.getFlat(i)).isCloseTo(reference.getFlat(i),
                                org.assertj.core.data.Offset.offset(tol));
                        assertThat(w.getFlat(i)).isCloseTo(reference.getFlat(i),
                                org.assertj.core.data.Offset.offset(tol));
                    }
                }
                double ga = 192.0 * 193 * 288;
                assertThat(StructuredDerivatives.gramFlops(24, 24, 1, 8, 288, 288, pairs, true)
                        - StructuredDerivatives.gramFlops(24, 24, 1, 8, 288, 288, pairs, false))
                        // GD over O·F = 288 is as large a Gram, traced or not
                        .isEqualTo((ga - 2.0 * 192 * 192 * 288) * 2
                                // and the kernel combines the 24·25/2 example blocks n1 ≤ n2 of 24², R² = 64 each
                                + 2.0 * 64 * (24 * 25 / 2 - 24 * 24));
            }
        }
    }

    /**
     * The full Gram order of a side with itself computes the example blocks n1 ≤ n2 — each whole, the diagonal
     * blocks' entries below their own diagonal included — as the same order between two copies of the side gives
     * them, and leaves the blocks below the example diagonal as the accumulator held them (the kernel's final
     * mirror writes those): through the combination of the cotangent Gram (O below 128, R = 1 and R = 3) and
     * through one GEMM per pair of examples (O = 128), float64 (1e-10 of the largest entry) and float32 (1e-5).
     */
    @Test
    void theGramOrderOfOneSideWithItselfComputesTheUpperBlocks() {
        int n = 5;
        int f = 7;
        for (int[] or : new int[][] {{8, 1}, {6, 3}, {128, 1}}) {
            int o = or[0];
            int r = or[1];
            for (DType dt : new DType[] {DType.F64, DType.F32}) {
                assertUpperBlocksAdded(n, o, r, f, OutputPairs.FULL, dt);
            }
        }
    }

    /**
     * The traced Gram order of a side with itself computes the example blocks n1 ≤ n2 of [N, N] as the same order
     * between two copies of the side gives them and leaves those below the example diagonal as the accumulator
     * held them: its cotangent Gram over (O, F) a symmetric product read in place (one output), of D transposed
     * to [N, R, O, F] (eight outputs), or a GEMM where it is too small for the symmetric product; R = 1 and R = 3,
     * float64 (1e-10 of the largest entry) and float32 (1e-5); its FLOPs those of the symmetric product and of
     * N(N+1)/2 combined blocks.
     */
    @Test
    void theTracedGramOrderOfOneSideWithItselfComputesTheUpperBlocks() {
        // {N, O, R, F}: in place (N·R = 72 rows over O·F = 288), transposed (64 rows over 320), a GEMM (15 over 42)
        for (int[] s : new int[][] {{24, 1, 3, 288}, {64, 8, 1, 40}, {5, 6, 3, 7}}) {
            int n = s[0];
            int o = s[1];
            int r = s[2];
            int f = s[3];
            boolean symmetric = org.ntk4j.cpu.DotGeneralKernel.isSymmetricGram(new int[] {n, r, o, f},
                    new int[] {2, 3}, new int[0]);
            assertThat(symmetric).as("N=%d O=%d R=%d F=%d a symmetric product", n, o, r, f).isEqualTo(n > 5);
            for (DType dt : new DType[] {DType.F64, DType.F32}) {
                assertUpperBlocksAdded(n, o, r, f, OutputPairs.TRACE, dt);
            }
            double m = (double) n * r;
            double gd = symmetric ? m * (m + 1) * o * f : 2 * m * m * o * f;
            assertThat(StructuredDerivatives.gramFlops(n, n, o, r, 9, f, OutputPairs.TRACE, true)
                    - StructuredDerivatives.gramFlops(n, n, o, r, 9, f, OutputPairs.TRACE, false))
                    .as("GD and the combination of a side with itself")
                    .isEqualTo(gd - 2 * m * m * o * f + 2.0 * r * r * (n * (n + 1) / 2.0 - n * n));
        }
    }

    /**
     * End to end, float64: the traced kernel of x1 with itself by structured derivatives — fcn(width=64, out=8):
     * the hidden layers' GD symmetric products of 72 rows over 8·64, D transposed — and the pNTK — fcn(width=256,
     * out=3), one output: the hidden layers' GD read in place, 72 rows over 256 — equal Jacobian contraction's and
     * those of x1 with a copy of itself (GEMMs throughout) within 1e-12 of the largest entry, and are exactly
     * symmetric.
     */
    @Test
    void theTracedKernelOfASideWithItselfMatchesTheOtherPathsAndIsSymmetric() {
        int n = 72;
        int[] none = new int[0];
        assertThat(org.ntk4j.cpu.DotGeneralKernel.isSymmetricGram(new int[] {n, 1, 8, 64}, new int[] {2, 3}, none))
                .as("trace: D [N, R, O, F] a symmetric product").isTrue();
        assertThat(org.ntk4j.cpu.DotGeneralKernel.isSymmetricGram(new int[] {1, n, 1, 256}, new int[] {0, 3}, none))
                .as("pntk: D [1, N, R, F] a symmetric product in place").isTrue();
        Object[][] cases = {{"fcn(depth=2,width=64,out=8)", KernelKind.trace()},
            {"fcn(depth=2,width=256,out=3)", KernelKind.parse("pntk", 0)}};
        for (Object[] c : cases) {
            Model m = Zoo.parse((String) c[0]);
            KernelKind kind = (KernelKind) c[1];
            org.ntk4j.nn.Params p = m.init(5, new int[] {5}, DType.F64);
            try (Tensor x = Tensor.randomNormal(DType.F64, 6, n, 5); Tensor copy = x.copy();
                 Tensor sd = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES).kernel(kind, x, null);
                 Tensor sdCopy = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES).kernel(kind, x, copy);
                 Tensor jc = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).kernel(kind, x, null)) {
                double scale = 0;
                for (int i = 0; i < jc.size(); i++) {
                    scale = Math.max(scale, Math.abs(jc.getFlat(i)));
                }
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        int at = i * n + j;
                        assertThat(sd.getFlat(at)).as("%s %s [%d, %d] against JC", c[0], kind, i, j)
                                .isCloseTo(jc.getFlat(at), org.assertj.core.data.Offset.offset(1e-12 * scale));
                        assertThat(sd.getFlat(at)).as("%s %s [%d, %d] against x1 with its copy", c[0], kind, i, j)
                                .isCloseTo(sdCopy.getFlat(at), org.assertj.core.data.Offset.offset(1e-12 * scale));
                        assertThat(sd.getFlat(at)).as("%s %s symmetric", c[0], kind).isEqualTo(sd.getFlat(j * n + i));
                    }
                }
            }
        }
    }

    /**
     * The per-output diagonal block [N1, N2, O] of each order (Gram, sandwich, rows) equals the entries (o, o) of
     * the full block [N1, O, N2, O] — R = 1 and 3, two sides and one side with itself (the Gram order's per-output
     * Grams then symmetric products over F = 288, whose entries n1 ≤ n2 it computes; the rest stay as the
     * accumulator held them), float64 within 1e-10 of the largest entry — and each order's FLOPs are those of its
     * O per-output products: O·(N·R)(N·R+1)·F for the symmetric ones, the combination of N(N+1)/2 pairs.
     */
    @Test
    void thePerOutputDiagonalOfEachOrderIsTheFullBlocksDiagonal() {
        int o = 5;
        for (int r : new int[] {1, 3}) {
            int n = 24; // N·R = 24 or 72: below and above the symmetric product's order of 64
            int f = 288;
            try (Tensor a1 = Tensor.randomNormal(DType.F64, 51, n, r, 7);
                 Tensor d1 = Tensor.randomNormal(DType.F64, 52, o, n, r, f);
                 Tensor a2 = Tensor.randomNormal(DType.F64, 53, 6, r, 7);
                 Tensor d2 = Tensor.randomNormal(DType.F64, 54, o, 6, r, f)) {
                for (Tensor[] side2 : new Tensor[][] {{a2, d2}, {a1, d1}}) {
                    boolean same = side2[0] == a1;
                    int m = side2[0].dim(0);
                    try (Tensor a1Copy = a1.copy(); Tensor d1Copy = d1.copy();
                         Tensor full = StructuredDerivatives.gramOrder(a1, d1, a1Copy, d1Copy, OutputPairs.FULL);
                         Tensor fullCross = StructuredDerivatives.rowOrder(a1, d1, side2[0], side2[1],
                                 OutputPairs.FULL)) {
                        Tensor reference = same ? full : fullCross;
                        double scale = 0;
                        for (int i = 0; i < reference.size(); i++) {
                            scale = Math.max(scale, Math.abs(reference.getFlat(i)));
                        }
                        double tol = 1e-10 * scale;
                        for (ContractionOrder order : ContractionOrder.values()) {
                            if (order == ContractionOrder.SANDWICH && r == 1) {
                                continue;
                            }
                            try (Tensor diag = orderBlock(order, a1, d1, side2[0], side2[1],
                                    OutputPairs.DIAGONAL)) {
                                assertThat(diag.shape()).isEqualTo(new int[] {n, m, o});
                                for (int i = 0; i < n; i++) {
                                    for (int j = 0; j < m; j++) {
                                        for (int q = 0; q < o; q++) {
                                            double v = diag.getFlat((i * m + j) * o + q);
                                            String what = String.format("%s R=%d same=%b [%d, %d, %d]", order, r,
                                                    same, i, j, q);
                                            if (same && order == ContractionOrder.GRAM && i > j) {
                                                assertThat(v).as(what + ": below the diagonal, untouched").isZero();
                                            } else {
                                                assertThat(v).as(what).isCloseTo(
                                                        reference.getFlat(((i * o + q) * m + j) * o + q),
                                                        org.assertj.core.data.Offset.offset(tol));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                double rows = 1.0 * n * r;
                assertThat(StructuredDerivatives.gramFlops(n, n, o, r, 7, f, OutputPairs.DIAGONAL, true)
                        - StructuredDerivatives.gramFlops(n, n, o, r, 7, f, OutputPairs.DIAGONAL, false))
                        .as("R=%d: the per-output Grams of a side with itself and N(N+1)/2 combined pairs", r)
                        .isEqualTo((rows >= 64 ? o * rows * (rows + 1) * f : 2.0 * o * rows * rows * f)
                                - 2.0 * o * rows * rows * f + 2.0 * o * r * r * (n * (n + 1) / 2.0 - n * n));
            }
        }
    }

    /**
     * Each example with itself ([N, O, O], a batch axis kept diagonal or traced): the Gram, sandwich and row orders
     * equal the example diagonal Θ[n, o1, n, o2] of the full block [N, O, N, O] — R = 1 and 3, two sides of N
     * examples each and one side with itself (the row order's and the activation Gram's products then Grams),
     * float64 within 1e-10 of the largest entry — and each order's FLOPs are its products batched over the N
     * examples, counted by hand here.
     */
    @Test
    void thePerExampleBlockOfEachOrderIsTheFullBlocksExampleDiagonal() {
        int o = 4;
        int c = 7;
        int f = 300;
        int n = 9;
        for (int r : new int[] {1, 3}) {
            try (Tensor a1 = Tensor.randomNormal(DType.F64, 61, n, r, c);
                 Tensor d1 = Tensor.randomNormal(DType.F64, 62, o, n, r, f);
                 Tensor a2 = Tensor.randomNormal(DType.F64, 63, n, r, c);
                 Tensor d2 = Tensor.randomNormal(DType.F64, 64, o, n, r, f)) {
                for (Tensor[] side2 : new Tensor[][] {{a2, d2}, {a1, d1}}) {
                    boolean same = side2[0] == a1;
                    try (Tensor full = StructuredDerivatives.rowOrder(a1, d1, side2[0], side2[1], OutputPairs.FULL)) {
                        double scale = 0;
                        for (int i = 0; i < full.size(); i++) {
                            scale = Math.max(scale, Math.abs(full.getFlat(i)));
                        }
                        for (ContractionOrder order : ContractionOrder.values()) {
                            if (order == ContractionOrder.SANDWICH && r == 1) {
                                continue;
                            }
                            try (Tensor blk = orderBlock(order, a1, d1, side2[0], side2[1],
                                    OutputPairs.PER_EXAMPLE)) {
                                assertThat(blk.shape()).isEqualTo(new int[] {n, o, o});
                                for (int i = 0; i < n; i++) {
                                    for (int q1 = 0; q1 < o; q1++) {
                                        for (int q2 = 0; q2 < o; q2++) {
                                            assertThat(blk.getFlat((i * o + q1) * o + q2))
                                                    .as("%s R=%d same=%b [%d, %d, %d]", order, r, same, i, q1, q2)
                                                    .isCloseTo(full.getFlat(((i * o + q1) * n + i) * o + q2),
                                                            org.assertj.core.data.Offset.offset(1e-10 * scale));
                                        }
                                    }
                                }
                            }
                            // each example's trace Σ_o Θ[n, o, n, o], its cotangent Grams summed over the outputs
                            try (Tensor tr = orderBlock(order, a1, d1, side2[0], side2[1],
                                    OutputPairs.PER_EXAMPLE_TRACE)) {
                                assertThat(tr.shape()).isEqualTo(new int[] {n});
                                for (int i = 0; i < n; i++) {
                                    double expected = 0;
                                    for (int q = 0; q < o; q++) {
                                        expected += full.getFlat(((i * o + q) * n + i) * o + q);
                                    }
                                    assertThat(tr.getFlat(i)).as("%s R=%d same=%b traced [%d]", order, r, same, i)
                                            .isCloseTo(expected,
                                                    org.assertj.core.data.Offset.offset(1e-10 * o * scale));
                                }
                            }
                        }
                    }
                }
                OutputPairs pe = OutputPairs.PER_EXAMPLE;
                assertThat(StructuredDerivatives.gramFlops(n, n, o, r, c, f, pe, false)).as("Gram order, R=%d", r)
                        .isEqualTo(2.0 * n * r * r * c + 2.0 * n * o * r * o * r * f + 2.0 * n * o * o * r * r);
                assertThat(StructuredDerivatives.sandwichFlops(n, n, o, r, c, f, pe, false)).as("sandwich, R=%d", r)
                        .isEqualTo(2.0 * n * r * r * c + 2.0 * n * o * f * r * r + 2.0 * n * o * o * r * f);
                assertThat(StructuredDerivatives.rowFlops(n, n, o, r, c, f, pe, false)).as("rows, R=%d", r)
                        .isEqualTo(2.0 * 2 * n * o * r * c * f + 2.0 * n * o * o * c * f);
                assertThat(StructuredDerivatives.rowFlops(n, n, o, r, c, f, pe, true)).as("rows of one side, R=%d", r)
                        .isEqualTo(2.0 * n * o * r * c * f + 2.0 * n * o * o * c * f);
                OutputPairs pt = OutputPairs.PER_EXAMPLE_TRACE;
                assertThat(StructuredDerivatives.gramFlops(n, n, o, r, c, f, pt, false)).as("traced Gram, R=%d", r)
                        .isEqualTo(2.0 * n * r * r * c + 2.0 * n * r * r * o * f + 2.0 * n * r * r);
                assertThat(StructuredDerivatives.sandwichFlops(n, n, o, r, c, f, pt, false)).as("traced sandwich")
                        .isEqualTo(2.0 * n * r * r * c + 2.0 * n * o * f * r * r + 2.0 * n * o * r * f);
                assertThat(StructuredDerivatives.rowFlops(n, n, o, r, c, f, pt, false)).as("traced rows, R=%d", r)
                        .isEqualTo(2.0 * 2 * n * o * r * c * f + 2.0 * n * o * c * f);
                assertThat(StructuredDerivatives.gramFlops(n, n, o, r, c, f, pe, false))
                        .as("batched over the examples: far below the full block's Gram order")
                        .isLessThan(StructuredDerivatives.gramFlops(n, n, o, r, c, f, OutputPairs.FULL, false) / 4);
            }
        }
    }

    /**
     * End to end, float64, the kind {@code diagonal} [N1, N2, O] by structured derivatives — an FCN (Gram order, its
     * per-output Grams of 72 rows over 64 features a GEMM, over 512 a symmetric product) and a CNN (R = 16
     * positions) — equals Jacobian contraction's within 1e-12 of the largest entry, x2 = x1 (exactly symmetric) and
     * x2 given, and takes fewer FLOPs than the full kernel it was computed from before.
     */
    @Test
    void theDiagonalKindMatchesJacobianContractionAndCostsLessThanTheFullKernel() {
        Object[][] cases = {{"fcn(depth=2,width=64,out=6)", new int[] {5}, 72},
            {"fcn(depth=1,width=512,out=3)", new int[] {5}, 72},
            {"cnn(depth=1,channels=4,out=4)", new int[] {4, 4}, 9}};
        for (Object[] c : cases) {
            Model m = Zoo.parse((String) c[0]);
            int[] in = (int[]) c[1];
            int n = (int) c[2];
            org.ntk4j.nn.Params p = m.init(7, in, DType.F64);
            KernelKind diagonal = KernelKind.parse("diagonal", 0);
            try (Tensor x = Tensor.randomNormal(DType.F64, 8, org.ntk4j.tensor.Shapes.prepend(n, in));
                 Tensor x2 = Tensor.randomNormal(DType.F64, 9, org.ntk4j.tensor.Shapes.prepend(5, in))) {
                for (Tensor second : new Tensor[] {null, x2}) {
                    EmpiricalNtk sd = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES);
                    try (Tensor k = sd.kernel(diagonal, x, second);
                         Tensor jc = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).kernel(diagonal, x,
                                 second)) {
                        assertThat(k.shape()).isEqualTo(jc.shape());
                        double scale = 0;
                        for (int i = 0; i < jc.size(); i++) {
                            scale = Math.max(scale, Math.abs(jc.getFlat(i)));
                        }
                        for (int i = 0; i < jc.size(); i++) {
                            assertThat(k.getFlat(i)).as("%s x2 %s at %d", c[0], second == null ? "= x1" : "given", i)
                                    .isCloseTo(jc.getFlat(i), org.assertj.core.data.Offset.offset(1e-12 * scale));
                        }
                        if (second == null) {
                            int o = k.dim(2);
                            for (int i = 0; i < n; i++) {
                                for (int j = 0; j < n; j++) {
                                    for (int q = 0; q < o; q++) {
                                        assertThat(k.getFlat((i * n + j) * o + q)).as("%s symmetric", c[0])
                                                .isEqualTo(k.getFlat((j * n + i) * o + q));
                                    }
                                }
                            }
                        }
                    }
                }
                double diagonalFlops = EmpiricalNtk.of(m, p).forKind(diagonal, in).costModel(n, 0, in, DType.F64)
                        .estimate(Method.STRUCTURED_DERIVATIVES).flops();
                double fullFlops = EmpiricalNtk.of(m, p).forKind(KernelKind.full(), in).costModel(n, 0, in, DType.F64)
                        .estimate(Method.STRUCTURED_DERIVATIVES).flops();
                assertThat(diagonalFlops).as("%s: the diagonal's FLOPs below the full kernel's", c[0])
                        .isLessThan(fullFlops);
            }
        }
    }

    /**
     * addGramOrder of a side with itself (A [N, R, 9], D [O, N, R, F], seeded) onto an accumulator of 0.25s: the
     * example blocks n1 ≤ n2 hold 0.25 plus the same order between two copies of the side (float64 within 1e-10
     * of the largest entry, float32 1e-5), those below the example diagonal still 0.25.
     */
    private static void assertUpperBlocksAdded(int n, int o, int r, int f, OutputPairs pairs, DType dt) {
        boolean traced = pairs == OutputPairs.TRACE;
        try (Tensor a = Tensor.randomNormal(dt, 41, n, r, 9); Tensor d = Tensor.randomNormal(dt, 42, o, n, r, f);
             Tensor a2 = a.copy(); Tensor d2 = d.copy();
             Tensor acc = traced ? Tensor.full(dt, 0.25, n, n) : Tensor.full(dt, 0.25, n, o, n, o);
             Tensor reference = StructuredDerivatives.gramOrder(a, d, a2, d2, pairs)) {
            StructuredDerivatives.addGramOrder(acc, 1.0, a, d, a, d, pairs);
            double scale = 0;
            for (int i = 0; i < reference.size(); i++) {
                scale = Math.max(scale, Math.abs(reference.getFlat(i)));
            }
            double tol = (dt == DType.F64 ? 1e-10 : 1e-5) * scale;
            for (int i = 0; i < acc.size(); i++) {
                int n1 = traced ? i / n : i / (o * n * o);
                int n2 = traced ? i % n : i / o % n;
                String what = String.format("%s N=%d O=%d R=%d traced=%b at %d", dt, n, o, r, traced, i);
                if (n1 > n2) {
                    assertThat(acc.getFlat(i)).as(what + ": below the example diagonal, untouched").isEqualTo(0.25);
                } else {
                    assertThat(acc.getFlat(i)).as(what).isCloseTo(0.25 + reference.getFlat(i),
                            org.assertj.core.data.Offset.offset(tol));
                }
            }
        }
    }

    /**
     * The fused Gram order accumulates s2 times the block onto what the accumulator held, for R = 1 (dense, the
     * scalar fast path) and R > 1, traced and full, in float64 (1e-12) and float32 (1e-5 of the largest entry).
     */
    @Test
    void gramOrderAddsTheScaledBlockToTheAccumulator() {
        double s2 = 0.37;
        for (DType dt : new DType[] {DType.F64, DType.F32}) {
            for (int r : new int[] {1, 3}) {
                for (OutputPairs pairs : new OutputPairs[] {OutputPairs.TRACE, OutputPairs.FULL}) {
                    boolean traced = pairs == OutputPairs.TRACE;
                    try (Tensor a1 = Tensor.randomNormal(dt, 11, 4, r, 5);
                         Tensor d1 = Tensor.randomNormal(dt, 12, 3, 4, r, 6);
                         Tensor a2 = Tensor.randomNormal(dt, 13, 2, r, 5);
                         Tensor d2 = Tensor.randomNormal(dt, 14, 3, 2, r, 6);
                         Tensor rows = StructuredDerivatives.rowOrder(a1, d1, a2, d2, pairs);
                         Tensor acc = Tensor.randomNormal(dt, 15, rows.shape());
                         Tensor before = acc.copy()) {
                        StructuredDerivatives.addGramOrder(acc, s2, a1, d1, a2, d2, pairs);
                        double scale = 0;
                        for (int i = 0; i < rows.size(); i++) {
                            scale = Math.max(scale, Math.abs(rows.getFlat(i)));
                        }
                        double tol = dt == DType.F64 ? 1e-12 * scale : 1e-5 * scale;
                        for (int i = 0; i < rows.size(); i++) {
                            assertThat(acc.getFlat(i)).as("%s R=%d traced=%b element %d", dt, r, traced, i)
                                    .isCloseTo(before.getFlat(i) + s2 * rows.getFlat(i),
                                            org.assertj.core.data.Offset.offset(tol));
                        }
                    }
                }
            }
        }
    }

    /**
     * The per-example pass lists each value once: consumers whose outputs an addition joins (a batch norm's scale and
     * shift) read one stacked cotangent, not a copy each, and the pass graph's outputs hold no repeat.
     */
    @Test
    void consumersJoinedByAnAdditionShareOneCotangent() {
        Model m = Zoo.parse("resnet18(width=2,out=3)");
        int[] in = {16, 16, 3};
        org.ntk4j.nn.Params p = m.init(2, in, DType.F32);
        SidePlan side = SidePlan.of(m, 2, in, DType.F32);
        List<org.ntk4j.graph.Var> outs = side.pass().graph.outputs();
        assertThat(new java.util.HashSet<>(outs)).hasSameSizeAs(outs);
        Tensor[] args = KernelSupport.paramArgs(p, m.paramSpecs(in));
        int shared = 0;
        try (PerExamplePass pass = new PerExamplePass(side, args, Tensor.randomNormal(DType.F32, 3,
                org.ntk4j.tensor.Shapes.prepend(2, in)))) {
            List<ParameterConsumers.Consumer> cs = side.pc.consumers;
            for (int i = 0; i < cs.size(); i++) {
                for (int j = i + 1; j < cs.size(); j++) {
                    if (cs.get(i).equation.output() != cs.get(j).equation.output()
                            && pass.delta(cs.get(i)) == pass.delta(cs.get(j))) {
                        shared++;
                    }
                }
            }
        }
        p.close();
        assertThat(shared).as("consumer pairs reading one cotangent").isPositive();
    }

    /** Bias and scale consumers: the vectorised broadcast rule equals the per-example VJP loop. */
    @Test
    void elementwiseRowsEqualTheExampleLoop() {
        for (String spec : new String[] {"fcn(depth=1,width=6,out=3)", "transformer(layers=1,dim=4,heads=2,out=3)",
            "cnn(depth=1,channels=2,out=3)"}) {
            Model m = Zoo.parse(spec);
            int[] in = spec.startsWith("fcn") ? new int[] {5} : new int[] {3, 4};
            org.ntk4j.nn.Params p = m.init(2, in, DType.F64);
            List<ParamSpec> specs = m.paramSpecs(in);
            SidePlan side = SidePlan.of(m, 4, in, DType.F64);
            ParameterConsumers pc = side.pc;
            Tensor[] args = new Tensor[specs.size()];
            for (int i = 0; i < args.length; i++) {
                args[i] = p.get(specs.get(i).path());
            }
            int checked = 0;
            try (PerExamplePass pass = new PerExamplePass(side, args, Tensor.randomNormal(DType.F64, 3,
                    org.ntk4j.tensor.Shapes.prepend(4, in)))) {
                for (ParameterConsumers.Consumer c : pc.consumers) {
                    Tensor fast = ElementwiseRows.rows(pass, c);
                    if (fast == null) {
                        continue;
                    }
                    Tensor slow = pass.loopRows(c);
                    assertThat(fast.shape()).isEqualTo(slow.shape());
                    for (int i = 0; i < fast.size(); i++) {
                        assertThat(fast.getFlat(i)).isCloseTo(slow.getFlat(i),
                                org.assertj.core.data.Offset.offset(1e-12));
                    }
                    checked++;
                }
            }
            assertThat(checked).as(spec).isPositive();
        }
    }

    /** One parameter's block in {@code order}. */
    private static Tensor orderBlock(ContractionOrder order, Tensor a1, Tensor d1, Tensor a2, Tensor d2,
                                     OutputPairs pairs) {
        switch (order) {
            case GRAM:
                return StructuredDerivatives.gramOrder(a1, d1, a2, d2, pairs);
            case SANDWICH:
                return StructuredDerivatives.sandwichOrder(a1, d1, a2, d2, pairs);
            default:
                return StructuredDerivatives.rowOrder(a1, d1, a2, d2, pairs);
        }
    }
}
