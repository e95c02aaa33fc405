package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Every exact method against the others and against an independent oracle: the Jacobian built column by
 * column by central finite differences in float64, then J Jᵀ.
 */
class EmpiricalNtkTest {
    static Stream<Object[]> models() {
        return Stream.of(
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3)"), new int[] {4}},
                // the activations added after neural-tangents' stax, each in an fcn, and silu in a cnn
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3,act=abs)"), new int[] {4}},
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3,act=exp,w_std=0.8,param=standard)"), new int[] {4}},
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3,act=gaussian)"), new int[] {4}},
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3,act=cos)"), new int[] {4}},
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3,act=silu)"), new int[] {4}},
                new Object[] {Zoo.parse("fcn(depth=2,width=5,out=3,act=elu)"), new int[] {4}},
                new Object[] {Zoo.parse("cnn(depth=1,channels=2,out=2,act=silu)"), new int[] {3, 3, 1}},
                new Object[] {Zoo.parse("cnn(depth=1,channels=2,out=2,act=tanh)"), new int[] {3, 3, 1}},
                new Object[] {Zoo.parse("resnet(blocks=1,channels=2,out=2,act=erf)"), new int[] {3, 3, 1}},
                new Object[] {Zoo.parse("transformer(layers=1,dim=4,heads=2,out=2)"), new int[] {3, 2}},
                new Object[] {new Model(Layers.serial(Layers.dense(4), Layers.batchNorm(), Layers.tanh(),
                        Layers.dense(3)), "batchnorm-mlp"), new int[] {3}});
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void methodsAgreeWithEachOtherAndWithFiniteDifferences(Model model, int[] in) {
        Params p = model.init(3, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(3, in));
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(2, in));
        EmpiricalNtk base = EmpiricalNtk.of(model, p).traceAxes();
        Tensor jc = base.method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2);
        Tensor vp = base.method(Method.NTK_VECTOR_PRODUCTS).ntk(x1, x2);
        int o = model.outputShape(in)[0];
        assertThat(jc.shape()).containsExactly(3, 2, o, o);
        assertThat(relativeError(vp, jc)).as("vp vs jc").isLessThan(1e-10);
        Tensor sd = base.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, x2);
        assertThat(relativeError(sd, jc)).as("sd vs jc").isLessThan(1e-10);
        // the traced fast path of SD
        Tensor sdTrace = base.traceAxes(-1).method(Method.STRUCTURED_DERIVATIVES).ntk(x1, x2);
        Tensor jcTrace = base.traceAxes(-1).method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2);
        assertThat(relativeError(sdTrace, jcTrace)).as("sd vs jc, traced").isLessThan(1e-10);
        Tensor oracle = finiteDifferenceNtk(model, p, in, x1, x2);
        assertThat(relativeError(jc, oracle)).as("jc vs finite differences").isLessThan(1e-6);
        // x2 = null reuses x1's work and equals the explicit call
        Tensor same = base.method(Method.JACOBIAN_CONTRACTION).ntk(x1, null);
        Tensor explicit = base.method(Method.NTK_VECTOR_PRODUCTS).ntk(x1, x1);
        assertThat(relativeError(same, explicit)).isLessThan(1e-10);
        Tensor sdSame = base.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, null);
        assertThat(relativeError(sdSame, explicit)).isLessThan(1e-10);
    }

    /** Float32 against float64, every method: relative Frobenius error within 1e-4. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void float32AgreesWithFloat64(Model model, int[] in) {
        Params p64 = model.init(3, in, DType.F64);
        Params p32 = model.init(3, in, DType.F32);
        Tensor x64 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(3, in));
        Tensor x32 = x64.to(DType.F32);
        Tensor ref = EmpiricalNtk.of(model, p64).method(Method.JACOBIAN_CONTRACTION).ntk(x64, null);
        for (Method m : Method.values()) {
            Tensor k = EmpiricalNtk.of(model, p32).method(m).ntk(x32, null);
            assertThat(k.dtype()).isEqualTo(DType.F32);
            assertThat(relativeError(k.to(DType.F64), ref)).as("%s in float32", m).isLessThan(1e-4);
        }
    }

    /** NNGP f(x1)·f(x2)ᵀ with the same semantics, and Θ·v against the full kernel. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void nngpAndVectorProduct(Model model, int[] in) {
        Params p = model.init(3, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(3, in));
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(2, in));
        Tensor f1 = model.apply(p, x1);
        Tensor f2 = model.apply(p, x2);
        int o = f1.dim(1);
        Tensor nngp = EmpiricalNtk.of(model, p).nngp(x1, x2);
        assertThat(nngp.shape()).containsExactly(3, 2);
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 2; b++) {
                double s = 0;
                for (int k = 0; k < o; k++) {
                    s += f1.get(a, k) * f2.get(b, k);
                }
                assertThat(nngp.get(a, b)).isCloseTo(s / o, org.assertj.core.data.Offset.offset(1e-12));
            }
        }
        Tensor full = EmpiricalNtk.of(model, p).traceAxes().method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2);
        Tensor v = Tensor.randomNormal(DType.F64, 9, 2, o);
        Tensor tv = EmpiricalNtk.of(model, p).ntkVectorProduct(x1, x2, v);
        assertThat(tv.shape()).containsExactly(3, o);
        for (int a = 0; a < 3; a++) {
            for (int k = 0; k < o; k++) {
                double s = 0;
                for (int b = 0; b < 2; b++) {
                    for (int l = 0; l < o; l++) {
                        s += full.get(a, b, k, l) * v.get(b, l);
                    }
                }
                assertThat(tv.get(a, k)).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-10 * (1 + Math.abs(s))));
            }
        }
    }

    /**
     * The batch axis kept diagonal ([N, O, O]: Θ(x1_n, x2_n)), with the outputs traced too ([N]), the batch axis traced
     * ([O, O]) and both traced (a scalar): every exact method against the finite-difference oracle's example diagonal
     * (relative 1e-6) and structured derivatives — which computes these blocks batched over the examples instead of
     * reducing the full kernel — against Jacobian contraction (1e-10), x2 of the same N given and x2 = x1, whose [O, O]
     * blocks are then exactly symmetric.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void perExampleKernelsAgreeWithTheFiniteDifferenceOracle(Model model, int[] in) {
        Params p = model.init(3, in, DType.F64);
        int n = 3;
        int o = model.outputShape(in)[0];
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(n, in));
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(n, in))) {
            for (Tensor second : new Tensor[] {x2, null}) {
                Tensor full = finiteDifferenceNtk(model, p, in, x1, second == null ? x1 : second); // [N, N, O, O]
                Tensor diagonal = Tensor.zeros(DType.F64, n, o, o);
                Tensor traced = Tensor.zeros(DType.F64, n);
                Tensor batchTrace = Tensor.zeros(DType.F64, o, o);
                Tensor bothTraced = Tensor.zeros(DType.F64);
                for (int i = 0; i < n; i++) {
                    for (int a = 0; a < o; a++) {
                        for (int b = 0; b < o; b++) {
                            double v = full.get(i, i, a, b);
                            diagonal.set(v, i, a, b);
                            batchTrace.set(batchTrace.get(a, b) + v / n, a, b);
                            if (a == b) {
                                traced.set(traced.get(i) + v / o, i);
                                bothTraced.set(bothTraced.get() + v / (n * o));
                            }
                        }
                    }
                }
                Object[][] kernels = {{new int[0], new int[] {0}, diagonal}, {new int[] {-1}, new int[] {0}, traced},
                    {new int[] {0}, new int[0], batchTrace}, {new int[] {0, -1}, new int[0], bothTraced}};
                for (Object[] k : kernels) {
                    EmpiricalNtk e = EmpiricalNtk.of(model, p).traceAxes((int[]) k[0]).diagonalAxes((int[]) k[1]);
                    String what = String.format("%s trace %s diagonal %s, x2 %s", model.spec(),
                            java.util.Arrays.toString((int[]) k[0]), java.util.Arrays.toString((int[]) k[1]),
                            second == null ? "= x1" : "given");
                    try (Tensor jc = e.method(Method.JACOBIAN_CONTRACTION).ntk(x1, second)) {
                        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                            Method.STRUCTURED_DERIVATIVES}) {
                            try (Tensor got = e.method(m).ntk(x1, second)) {
                                assertThat(got.shape()).as(what).isEqualTo(((Tensor) k[2]).shape());
                                assertThat(relativeError(got, (Tensor) k[2])).as("%s %s vs finite differences",
                                        what, m.shortName()).isLessThan(1e-6);
                                assertThat(relativeError(got, jc)).as("%s %s vs jc", what, m.shortName())
                                        .isLessThan(1e-10);
                                if (second == null && got.rank() == 3) {
                                    for (int i = 0; i < n; i++) {
                                        for (int a = 0; a < o; a++) {
                                            for (int b = 0; b < a; b++) {
                                                assertThat(got.get(i, a, b)).as("%s %s symmetric", what,
                                                        m.shortName()).isEqualTo(got.get(i, b, a));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static double relativeError(Tensor a, Tensor b) {
        return org.ntk4j.Fixtures.relativeError(a, b);
    }

    /** Θ[n1, n2, o1, o2] from J columns by central differences of the forward pass (step 1e-6). */
    static Tensor finiteDifferenceNtk(Model model, Params p, int[] in, Tensor x1, Tensor x2) {
        double[][] j1 = fdJacobian(model, p, x1);
        double[][] j2 = fdJacobian(model, p, x2);
        int n1 = x1.dim(0);
        int n2 = x2.dim(0);
        int o = model.outputShape(in)[0];
        Tensor t = Tensor.zeros(DType.F64, n1, n2, o, o);
        for (int a = 0; a < n1; a++) {
            for (int b = 0; b < n2; b++) {
                for (int oa = 0; oa < o; oa++) {
                    for (int ob = 0; ob < o; ob++) {
                        double s = 0;
                        double[] r1 = j1[a * o + oa];
                        double[] r2 = j2[b * o + ob];
                        for (int q = 0; q < r1.length; q++) {
                            s += r1[q] * r2[q];
                        }
                        t.set(s, a, b, oa, ob);
                    }
                }
            }
        }
        return t;
    }

    static double[][] fdJacobian(Model model, Params p, Tensor x) {
        List<double[]> cols = new ArrayList<>();
        double eps = 1e-6;
        int rows = -1;
        for (ParamSpec s : model.paramSpecs(Shapes.dropFirst(x.shape()))) {
            Tensor w = p.get(s.path());
            for (int e = 0; e < w.size(); e++) {
                double orig = w.getFlat(e);
                w.setFlat(e, orig + eps);
                Tensor fp = model.apply(p, x);
                w.setFlat(e, orig - eps);
                Tensor fm = model.apply(p, x);
                w.setFlat(e, orig);
                double[] col = new double[fp.size()];
                for (int r = 0; r < col.length; r++) {
                    col[r] = (fp.getFlat(r) - fm.getFlat(r)) / (2 * eps);
                }
                rows = col.length;
                cols.add(col);
                fp.close();
                fm.close();
            }
        }
        double[][] j = new double[rows][cols.size()];
        for (int c = 0; c < cols.size(); c++) {
            for (int r = 0; r < rows; r++) {
                j[r][c] = cols.get(c)[r];
            }
        }
        return j;
    }
}
