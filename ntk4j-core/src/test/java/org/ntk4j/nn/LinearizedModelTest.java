package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * linearize / taylor2: at θ = θ0 the outputs and the eNTK are the network's; after a step Δ the linearised model
 * misses f(θ0 + Δ) by O(|Δ|²) and the second-order one by O(|Δ|³); plain gradient descent trains them.
 */
class LinearizedModelTest {
    private static final int[] IN = {4};

    static double maxAbsDiff(Tensor a, Tensor b) {
        assertThat(a.shape()).isEqualTo(b.shape());
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            m = Math.max(m, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return m;
    }

    static double relativeError(Tensor a, Tensor b) {
        return org.ntk4j.Fixtures.relativeError(a, b);
    }

    /** θ0 + s·D for a fixed random direction D (unit N(0,1) entries). */
    static Params shifted(Params p, double s, long seed) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        long k = seed;
        for (Map.Entry<String, Tensor> e : p.tensors().entrySet()) {
            Tensor t = e.getValue().copy();
            try (Tensor d = Tensor.randomNormal(DType.F64, k++, t.shape())) {
                for (int i = 0; i < t.size(); i++) {
                    t.setFlat(i, t.getFlat(i) + s * d.getFlat(i));
                }
            }
            m.put(e.getKey(), t);
        }
        return new Params(m);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fcn(depth=2,width=6,out=3,act=tanh)", "fcn(depth=1,width=5,out=2,act=relu)",
        "cnn(depth=1,channels=2,out=2,act=erf)"})
    void atThetaZeroOutputsAndNtkEqualTheNetworks(String spec) {
        Model net = Zoo.parse(spec);
        int[] in = spec.startsWith("cnn") ? new int[] {3, 3, 1} : IN;
        Params p = net.init(5, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(3, in));
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(2, in));
        for (Model lin : new Model[] {Linearized.linearize(net, p), Linearized.taylor2(net, p)}) {
            assertThat(lin.paramSpecs(in).toString()).isEqualTo(net.paramSpecs(in).toString());
            try (Tensor f = net.apply(p, x1); Tensor fl = lin.apply(p, x1)) {
                assertThat(fl.toDoubleArray()).as(lin.spec() + " outputs at θ0").containsExactly(f.toDoubleArray());
            }
            EmpiricalNtk ref = EmpiricalNtk.of(net, p).traceAxes();
            try (Tensor k = ref.method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2)) {
                for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                    Method.STRUCTURED_DERIVATIVES}) {
                    try (Tensor kl = EmpiricalNtk.of(lin, p).traceAxes().method(m).ntk(x1, x2)) {
                        assertThat(relativeError(kl, k)).as(lin.spec() + " eNTK by " + m).isLessThan(1e-10);
                    }
                }
            }
            // the NNGP of the expansion at θ0 is the network's too (same outputs)
            try (Tensor g = EmpiricalNtk.of(net, p).nngp(x1, x2); Tensor gl = EmpiricalNtk.of(lin, p).nngp(x1, x2)) {
                assertThat(maxAbsDiff(gl, g)).isEqualTo(0.0);
            }
        }
    }

    @Test
    void taylorErrorsShrinkAsTheSquareAndTheCubeOfTheStep() {
        Model net = Zoo.parse("fcn(depth=2,width=6,out=3,act=tanh)");
        Params p = net.init(7, IN, DType.F64);
        Model lin = Linearized.linearize(net, p);
        Model quad = Linearized.taylor2(net, p);
        Tensor x = Tensor.randomNormal(DType.F64, 3, Shapes.prepend(5, IN));
        double[] errLin = new double[2];
        double[] errQuad = new double[2];
        double[] steps = {1e-2, 5e-3};
        for (int i = 0; i < 2; i++) {
            try (Params q = shifted(p, steps[i], 100); Tensor f = net.apply(q, x); Tensor fl = lin.apply(q, x);
                 Tensor fq = quad.apply(q, x)) {
                errLin[i] = maxAbsDiff(fl, f);
                errQuad[i] = maxAbsDiff(fq, f);
            }
        }
        // halving the step divides the first-order error by 4 and the second-order error by 8
        assertThat(errLin[0]).isGreaterThan(1e-8);
        assertThat(errLin[0] / errLin[1]).isBetween(3.6, 4.4);
        assertThat(errQuad[0] / errQuad[1]).isBetween(7.0, 9.0);
        assertThat(errQuad[0]).isLessThan(errLin[0] / 10);
    }

    @Test
    void linearisedOutputsAreAffineInTheParameters() {
        Model net = Zoo.parse("fcn(depth=1,width=5,out=2,act=relu)");
        Params p = net.init(2, IN, DType.F64);
        Model lin = Linearized.linearize(net, p);
        Tensor x = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(3, IN));
        try (Params a = shifted(p, 0.3, 11); Params b = shifted(p, 0.6, 11); Tensor f0 = lin.apply(p, x);
             Tensor fa = lin.apply(a, x); Tensor fb = lin.apply(b, x)) {
            // f(θ0 + 2Δ) − f(θ0) = 2 (f(θ0 + Δ) − f(θ0)) exactly up to round-off
            for (int i = 0; i < f0.size(); i++) {
                double d1 = fa.getFlat(i) - f0.getFlat(i);
                double d2 = fb.getFlat(i) - f0.getFlat(i);
                assertThat(d2).isCloseTo(2 * d1, org.assertj.core.data.Offset.offset(1e-12));
            }
        }
    }

    @Test
    void gradientDescentTrainsTheLinearisedModelAndItsNtkStaysFixed() {
        Model net = Zoo.parse("fcn(depth=1,width=8,out=2,act=tanh)");
        Params p = net.init(1, IN, DType.F64);
        Model lin = Linearized.linearize(net, p);
        Tensor x = Tensor.randomNormal(DType.F64, 9, Shapes.prepend(6, IN));
        Tensor y = Tensor.randomNormal(DType.F64, 10, 6, 2);
        Params q = p;
        double first = Double.NaN;
        double last = Double.NaN;
        for (int s = 0; s < 50; s++) {
            try (Tensor f = lin.apply(q, x)) {
                double[] fv = f.toDoubleArray();
                double[] g = new double[fv.length];
                org.ntk4j.predict.Loss.MSE.gradient(fv, y.toDoubleArray(), 2, g);
                last = org.ntk4j.predict.Loss.MSE.value(fv, y.toDoubleArray(), 2);
                first = s == 0 ? last : first;
                try (Tensor gt = Tensor.of(g, 6, 2)) {
                    Params next = GradientStep.step(lin, q, x, gt, 1.0);
                    if (q != p) {
                        q.close();
                    }
                    q = next;
                }
            }
        }
        assertThat(last).isLessThan(0.5 * first);
        // the linearised model's kernel does not move with its parameters
        try (Tensor k0 = EmpiricalNtk.of(lin, p).method(Method.JACOBIAN_CONTRACTION).ntk(x, null);
             Tensor kt = EmpiricalNtk.of(lin, q).method(Method.JACOBIAN_CONTRACTION).ntk(x, null);
             Tensor knet = EmpiricalNtk.of(net, q).method(Method.JACOBIAN_CONTRACTION).ntk(x, null)) {
            assertThat(relativeError(kt, k0)).isLessThan(1e-12);
            assertThat(relativeError(knet, k0)).as("the network's own kernel moves").isGreaterThan(1e-6);
        }
    }

    @Test
    void zooSpecsNameTheExpansions() {
        Model lin = Zoo.parse("linearize(fcn(depth=1,width=5,out=2), seed=4)");
        Model net = Zoo.parse("fcn(depth=1,width=5,out=2)");
        assertThat(lin.spec()).isEqualTo("linearize(fcn(depth=1,width=5,out=2), seed=4)");
        Tensor x = Tensor.randomNormal(DType.F64, 3, Shapes.prepend(3, IN));
        try (Params p4 = net.init(4, IN, DType.F64); Params p5 = net.init(5, IN, DType.F64);
             Tensor f = net.apply(p4, x); Tensor fl = lin.apply(p4, x); Tensor fl5 = lin.apply(p5, x)) {
            assertThat(fl.toDoubleArray()).containsExactly(f.toDoubleArray());
            assertThat(maxAbsDiff(fl5, f)).isGreaterThan(1e-3); // θ ≠ θ0: the affine part moves it
        }
        assertThat(Zoo.parse("taylor2(cnn(depth=1,channels=2))").outputShape(new int[] {3, 3, 1})).containsExactly(10);
        assertThatThrownBy(() -> Zoo.parse("linearize(fcn(depth=1), depth=3)"))
                .hasMessageContaining("linearize(MODEL, seed=S)");
        assertThatThrownBy(() -> Zoo.parse("linearize()")).hasMessageContaining("linearize(MODEL)");
        assertThatThrownBy(() -> Zoo.parse("taylor2(fcn(depth=1)")).hasMessageContaining("unbalanced '('");
    }

    /**
     * θ0 with buffers (a batch norm's running statistics, as a checkpoint holds them): the expansion is around the
     * network base.apply(θ0, x) evaluates, so at θ = θ0 its outputs are that network's (they were the network's
     * with the default statistics); and a θ0 that does not fit is named as θ0, not as the parameters applied.
     */
    @Test
    void theExpansionPointsBuffersArePartOfTheNetworkExpanded() {
        Model m = GradientStepTest.model();
        try (Params theta0 = GradientStepTest.withStatistics(m); Tensor x = Tensor.randomNormal(DType.F64, 2, 5, 4)) {
            Map<String, Tensor> plain = new LinkedHashMap<>();
            theta0.tensors().forEach((k, v) -> plain.put(k, v.copy()));
            try (Params theta = new Params(plain); Tensor f = m.apply(theta0, x);
                 Tensor lin = Linearized.linearize(m, theta0).apply(theta, x);
                 Tensor second = Linearized.taylor2(m, theta0).apply(theta, x);
                 Tensor defaults = m.apply(theta, x)) {
                assertThat(lin.toDoubleArray()).containsExactly(f.toDoubleArray());
                assertThat(second.toDoubleArray()).containsExactly(f.toDoubleArray());
                // the statistics matter: with the defaults the network is another
                assertThat(defaults.toDoubleArray()).isNotEqualTo(f.toDoubleArray());
            }
            Model wider = new Model(Layers.serial(Layers.dense(5), Layers.batchNormEval(), Layers.tanh(),
                    Layers.dense(2)), "wider");
            try (Params other = wider.init(0, GradientStepTest.IN, DType.F64)) {
                Model lin = Linearized.linearize(m, other);
                assertThatThrownBy(() -> lin.apply(theta0, x)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageStartingWith("linearize(dense-bn-tanh-dense): the expansion point theta0 does not "
                                + "fit examples of shape [4]: parameters: ");
            }
        }
    }
}
