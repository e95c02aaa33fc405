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

    /** Both evaluation orders of the matrix-Jacobian-Jacobian-matrix product give the same block. */
    @Test
    void gramAndRowOrdersAgree() {
        Tensor a1 = Tensor.randomNormal(DType.F64, 1, 3, 4, 5);
        Tensor d1 = Tensor.randomNormal(DType.F64, 2, 2, 3, 4, 6);
        Tensor a2 = Tensor.randomNormal(DType.F64, 3, 2, 4, 5);
        Tensor d2 = Tensor.randomNormal(DType.F64, 4, 2, 2, 4, 6);
        for (boolean traced : new boolean[] {true, false}) {
            Tensor g = StructuredDerivatives.gramOrder(a1, d1, a2, d2, traced);
            Tensor r = StructuredDerivatives.rowOrder(a1, d1, a2, d2, traced);
            Tensor w = StructuredDerivatives.sandwichOrder(a1, d1, a2, d2, traced);
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
        assertThat(StructuredDerivatives.gramFlops(16, 16, 8, 1, 2048, 2048, false))
                .isLessThan(StructuredDerivatives.rowFlops(16, 16, 8, 1, 2048, 2048, false, true));
        assertThat(StructuredDerivatives.gramFlops(16, 16, 8, 1024, 9, 4, false))
                .isGreaterThan(StructuredDerivatives.rowFlops(16, 16, 8, 1024, 9, 4, false, true));
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
                for (boolean traced : new boolean[] {true, false}) {
                    try (Tensor a1 = Tensor.randomNormal(dt, 11, 4, r, 5);
                         Tensor d1 = Tensor.randomNormal(dt, 12, 3, 4, r, 6);
                         Tensor a2 = Tensor.randomNormal(dt, 13, 2, r, 5);
                         Tensor d2 = Tensor.randomNormal(dt, 14, 3, 2, r, 6);
                         Tensor rows = StructuredDerivatives.rowOrder(a1, d1, a2, d2, traced);
                         Tensor acc = Tensor.randomNormal(dt, 15, rows.shape());
                         Tensor before = acc.copy()) {
                        StructuredDerivatives.addGramOrder(acc, s2, a1, d1, a2, d2, traced);
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
}
