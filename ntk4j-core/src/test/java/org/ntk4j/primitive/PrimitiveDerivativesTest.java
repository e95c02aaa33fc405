package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The JVP and VJP rules of every primitive, in float64, on shapes with size-1 and broadcast axes: against
 * central finite differences, against each other (the dot-product test), and stacked (K vectors at once)
 * against K single evaluations. Operands that are graph constants check the rules with a zero tangent on
 * that side (a "parameter on one side").
 */
class PrimitiveDerivativesTest {
    private static final int K = 3;
    private static final double EPS = 1e-5;
    private static final double FD_TOL = 1e-6;
    private static final double ADJOINT_TOL = 1e-12;
    private static final double STACKING_TOL = 1e-12;

    /** How the values of an operand are drawn, to keep away from points where a rule is not differentiable. */
    enum Gen {
        /** Standard normal. */
        NORMAL,
        /** |N(0,1)| + 0.5: for log, sqrt. */
        POSITIVE,
        /** ±(|N(0,1)| + 0.5): for denominators and relu. */
        AWAY_FROM_ZERO,
        /** Odd multiples of 0.1 in [-1.9, 1.9]; never equal to an {@link #EVEN_TENTHS} value. */
        ODD_TENTHS,
        /** Even multiples of 0.1 in [-2, 2]. */
        EVEN_TENTHS,
        /** A random permutation of 0, 0.1, 0.2, ... plus noise below 0.01: all values at least 0.08 apart. */
        DISTINCT;

        Tensor make(int[] shape, long seed) {
            Tensor t = Tensor.randomNormal(DType.F64, seed, shape);
            Random r = new Random(seed ^ 0x5DEECE66DL);
            int n = t.size();
            List<Integer> perm = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                perm.add(i);
            }
            java.util.Collections.shuffle(perm, r);
            for (int i = 0; i < n; i++) {
                double v = t.getFlat(i);
                switch (this) {
                    case POSITIVE:
                        v = Math.abs(v) + 0.5;
                        break;
                    case AWAY_FROM_ZERO:
                        v = Math.copySign(Math.abs(v) + 0.5, v);
                        break;
                    case ODD_TENTHS:
                        v = 0.1 * (2 * (r.nextInt(19) - 9) + 1);
                        break;
                    case EVEN_TENTHS:
                        v = 0.2 * (r.nextInt(21) - 10);
                        break;
                    case DISTINCT:
                        v = 0.1 * perm.get(i) - 0.05 * n + 0.01 * r.nextDouble();
                        break;
                    default:
                        break;
                }
                t.setFlat(i, v);
            }
            return t;
        }
    }

    /** One graph to check: its input types and value generators, and the traced function. */
    record Case(String name, List<TensorType> types, List<Gen> gens, Function<Var[], Var> fn) {
        Graph graph() {
            return Graph.trace(types, v -> new Var[] {fn.apply(v)});
        }

        Tensor[] inputs(long seed) {
            Tensor[] x = new Tensor[types.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = gens.get(i).make(types.get(i).shape(), seed + 1009L * i);
            }
            return x;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static TensorType t(int... shape) {
        return new TensorType(DType.F64, shape);
    }

    private static Case unary(String name, int[] shape, Gen gen, Function<Var, Var> f) {
        return new Case(name + " " + Arrays.toString(shape), List.of(t(shape)), List.of(gen), v -> f.apply(v[0]));
    }

    private static Case binary(String name, int[] a, int[] b, Gen ga, Gen gb,
                               java.util.function.BinaryOperator<Var> f) {
        return new Case(name + " " + Arrays.toString(a) + " " + Arrays.toString(b), List.of(t(a), t(b)),
                List.of(ga, gb), v -> f.apply(v[0], v[1]));
    }

    /** A constant operand of the graph being traced next to {@code like}. */
    private static Var constant(Var like, Gen gen, long seed, int... shape) {
        return like.builder().constant(gen.make(shape, seed));
    }

    /** The binary op with its rhs a constant (only the lhs has a tangent) and with its lhs a constant. */
    private static Stream<Case> oneSided(String name, int[] a, int[] b, Gen ga, Gen gb,
                                         java.util.function.BinaryOperator<Var> f) {
        return Stream.of(
                new Case(name + " " + Arrays.toString(a) + " const" + Arrays.toString(b), List.of(t(a)),
                        List.of(ga), v -> f.apply(v[0], constant(v[0], gb, 77, b))),
                new Case(name + " const" + Arrays.toString(a) + " " + Arrays.toString(b), List.of(t(b)),
                        List.of(gb), v -> f.apply(constant(v[0], ga, 78, a), v[0])));
    }

    private static Stream<Case> binaryCases(String name, Gen ga, Gen gb, java.util.function.BinaryOperator<Var> f) {
        int[][][] pairs = {
            {{3, 1, 4}, {5, 1}},
            {{5, 1}, {3, 1, 4}},
            {{2, 3}, {2, 3}},
            {{2, 3}, {}},
            {{}, {2, 3}},
            {{}, {}},
            {{4}, {3, 1}},
            {{1, 1}, {2, 1, 3}},
        };
        Stream<Case> both = Arrays.stream(pairs).map(p -> binary(name, p[0], p[1], ga, gb, f));
        return Stream.concat(both, Stream.concat(
                oneSided(name, s(3, 1, 4), s(5, 1), ga, gb, f),
                oneSided(name, s(2, 3), s(), ga, gb, f)));
    }

    private static int[] s(int... v) {
        return v;
    }

    static Stream<Case> elementwiseCases() {
        return Stream.of(
                binaryCases("add", Gen.NORMAL, Gen.NORMAL, Var::add),
                binaryCases("sub", Gen.NORMAL, Gen.NORMAL, Var::sub),
                binaryCases("mul", Gen.NORMAL, Gen.NORMAL, Var::mul),
                binaryCases("div", Gen.NORMAL, Gen.AWAY_FROM_ZERO, Var::div),
                binaryCases("max", Gen.ODD_TENTHS, Gen.EVEN_TENTHS, Var::max),
                binaryCases("max(b,a)", Gen.EVEN_TENTHS, Gen.ODD_TENTHS, Var::max),
                // the same variable on both sides: both rules' contributions add up
                Stream.of(unary("mul(x,x)", s(3, 1, 4), Gen.NORMAL, x -> x.mul(x)),
                        unary("div(x,x+3)", s(2, 3), Gen.POSITIVE, x -> x.div(x.add(3.0))),
                        unary("relu", s(3, 1, 4), Gen.AWAY_FROM_ZERO, Var::relu)),
                unaries(s(3, 1, 4)),
                unaries(s()),
                unaries(s(2, 1))
        ).flatMap(c -> c);
    }

    private static Stream<Case> unaries(int[] shape) {
        return Stream.of(
                unary("neg", shape, Gen.NORMAL, Var::neg),
                unary("exp", shape, Gen.NORMAL, Var::exp),
                unary("log", shape, Gen.POSITIVE, Var::log),
                unary("tanh", shape, Gen.NORMAL, Var::tanh),
                unary("sin", shape, Gen.NORMAL, Var::sin),
                unary("cos", shape, Gen.NORMAL, Var::cos),
                unary("sqrt", shape, Gen.POSITIVE, Var::sqrt),
                unary("erf", shape, Gen.NORMAL, Var::erf),
                unary("logistic", shape, Gen.NORMAL, Var::sigmoid),
                unary("softplus", shape, Gen.NORMAL, Var::softplus),
                // larger arguments, where the rules work from the output (e^x, σ, tanh near saturation)
                unary("exp(3x)", shape, Gen.NORMAL, x -> x.mul(3.0).exp()),
                unary("logistic(4x)", shape, Gen.NORMAL, x -> x.mul(4.0).sigmoid()),
                unary("softplus(6x)", shape, Gen.NORMAL, x -> x.mul(6.0).softplus()),
                unary("erf(2x)", shape, Gen.NORMAL, x -> x.mul(2.0).erf()));
    }

    /** dot_general: lhs shape, rhs shape, lhs/rhs contracting axes, lhs/rhs batch axes. */
    private static Stream<Case> dot(String what, int[] l, int[] r, int[] lc, int[] rc, int[] lb, int[] rb) {
        String name = "dot_general " + what + " " + Arrays.toString(l) + "x" + Arrays.toString(r);
        Function<Var[], Var> both = v -> v[0].dotGeneral(v[1], lc, rc, lb, rb);
        return Stream.of(
                new Case(name, List.of(t(l), t(r)), List.of(Gen.NORMAL, Gen.NORMAL), both),
                new Case(name + " (rhs const)", List.of(t(l)), List.of(Gen.NORMAL),
                        v -> v[0].dotGeneral(constant(v[0], Gen.NORMAL, 5, r), lc, rc, lb, rb)),
                new Case(name + " (lhs const)", List.of(t(r)), List.of(Gen.NORMAL),
                        v -> constant(v[0], Gen.NORMAL, 6, l).dotGeneral(v[0], lc, rc, lb, rb)));
    }

    static Stream<Case> dotGeneralCases() {
        int[] none = {};
        return Stream.of(
                dot("matmul", s(3, 4), s(4, 5), s(1), s(0), none, none),
                dot("x.W^T", s(3, 4), s(5, 4), s(1), s(1), none, none),
                dot("A^T.B", s(4, 3), s(4, 5), s(0), s(0), none, none),
                dot("A^T.B^T", s(4, 3), s(5, 4), s(0), s(1), none, none),
                dot("batched", s(2, 3, 4), s(2, 4, 5), s(2), s(1), s(0), s(0)),
                dot("batched^T", s(2, 4, 3), s(2, 5, 4), s(1), s(2), s(0), s(0)),
                dot("batch in the middle", s(3, 2, 4), s(4, 5, 2), s(2), s(0), s(1), s(2)),
                dot("two contracting", s(2, 3, 4), s(4, 3, 5), s(1, 2), s(1, 0), none, none),
                dot("two contracting reversed", s(2, 3, 4), s(4, 3, 5), s(2, 1), s(0, 1), none, none),
                dot("two batch swapped", s(2, 3, 4), s(3, 2, 4, 5), s(2), s(2), s(0, 1), s(1, 0)),
                dot("outer", s(3), s(4), none, none, none, none),
                dot("inner", s(4), s(4), s(0), s(0), none, none),
                dot("scalar times matrix", s(), s(2, 3), none, none, none, none),
                dot("size-1 axes", s(1, 3, 1), s(1, 1, 5), s(2), s(1), s(0), s(0)),
                dot("contract size 1", s(3, 1), s(1, 2), s(1), s(0), none, none),
                dot("batch only", s(2, 3), s(2), none, none, s(0), s(0)),
                dot("rank 4", s(2, 1, 3, 2), s(3, 2, 4), s(2, 3), s(0, 1), none, none)
        ).flatMap(c -> c);
    }

    private static Case reduce(String name, int[] shape, int[] axes, Gen gen, boolean max) {
        return new Case(name + " " + Arrays.toString(shape) + " axes " + Arrays.toString(axes), List.of(t(shape)),
                List.of(gen), v -> v[0].builder().apply(max ? new ReduceMax(axes) : new ReduceSum(axes), v[0]));
    }

    static Stream<Case> structuralCases() {
        return Stream.of(
                reduce("reduce_sum", s(3, 1, 4), s(0, 2), Gen.NORMAL, false),
                reduce("reduce_sum", s(3, 1, 4), s(2, 0), Gen.NORMAL, false),
                reduce("reduce_sum", s(3, 1, 4), s(1), Gen.NORMAL, false),
                reduce("reduce_sum", s(3, 1, 4), s(0, 1, 2), Gen.NORMAL, false),
                reduce("reduce_sum", s(3, 1, 4), s(), Gen.NORMAL, false),
                reduce("reduce_sum", s(), s(), Gen.NORMAL, false),
                reduce("reduce_max", s(3, 4, 2), s(1), Gen.DISTINCT, true),
                reduce("reduce_max", s(3, 4, 2), s(2, 0), Gen.DISTINCT, true),
                reduce("reduce_max", s(3, 4, 2), s(0, 1, 2), Gen.DISTINCT, true),
                reduce("reduce_max", s(3, 1, 4), s(1), Gen.DISTINCT, true),
                reduce("reduce_max", s(5), s(0), Gen.DISTINCT, true),
                reduce("reduce_max", s(), s(), Gen.DISTINCT, true),
                unary("reshape [2,6]", s(3, 1, 4), Gen.NORMAL, x -> x.reshape(2, 6)),
                unary("reshape [12]", s(3, 1, 4), Gen.NORMAL, x -> x.reshape(12)),
                unary("reshape [1,12,1]", s(3, 1, 4), Gen.NORMAL, x -> x.reshape(1, 12, 1)),
                unary("reshape [1,1]", s(), Gen.NORMAL, x -> x.reshape(1, 1)),
                unary("reshape []", s(1, 1), Gen.NORMAL, x -> x.reshape()),
                unary("transpose [2,0,1]", s(3, 1, 4), Gen.NORMAL, x -> x.transpose(2, 0, 1)),
                unary("transpose [1,2,0]", s(3, 1, 4), Gen.NORMAL, x -> x.transpose(1, 2, 0)),
                unary("transpose [0,2,1]", s(3, 1, 4), Gen.NORMAL, x -> x.transpose(0, 2, 1)),
                unary("transpose [3,1,0,2]", s(2, 3, 1, 2), Gen.NORMAL, x -> x.transpose(3, 1, 0, 2)),
                unary("transpose [1,0]", s(2, 3), Gen.NORMAL, x -> x.transpose(1, 0)),
                unary("broadcast_in_dim [2,3,5] dims [1,2]", s(3, 1), Gen.NORMAL,
                        x -> x.broadcastInDim(s(2, 3, 5), s(1, 2))),
                unary("broadcast_in_dim [2,3] dims []", s(), Gen.NORMAL, x -> x.broadcastInDim(s(2, 3), s())),
                unary("broadcast_in_dim [4,3,4] dims [0,2]", s(1, 4), Gen.NORMAL,
                        x -> x.broadcastInDim(s(4, 3, 4), s(0, 2))),
                unary("broadcast_in_dim [3,2] dims [0]", s(3), Gen.NORMAL, x -> x.broadcastInDim(s(3, 2), s(0))),
                unary("broadcast_in_dim [2,4,3] dims [0,1,2]", s(2, 1, 3), Gen.NORMAL,
                        x -> x.broadcastInDim(s(2, 4, 3), s(0, 1, 2))),
                unary("broadcast_in_dim [2,1,3] dims [0,1,2] (identity)", s(2, 1, 3), Gen.NORMAL,
                        x -> x.broadcastInDim(s(2, 1, 3), s(0, 1, 2))),
                unary("broadcast_in_dim [1,3] dims [1]", s(3), Gen.NORMAL, x -> x.broadcastInDim(s(1, 3), s(1))),
                sumOfProducts(s(2, 3, 4), s(3, 4), 1, 3),
                sumOfProducts(s(2, 3, 4), s(2, 3, 4), 0, 2),
                sumOfProducts(s(2, 3, 1, 4), s(3, 1, 4), 2, 3),
                sumOfProducts(s(3, 2, 4), s(4), 2, 3),
                sumOfProducts(s(2, 3), s(2, 3), 0, 2));
    }

    private static Case sumOfProducts(int[] a, int[] b, int from, int to) {
        return new Case("sum_of_products " + Arrays.toString(a) + " " + Arrays.toString(b) + " axes [" + from + ", "
                + to + ")", List.of(t(a), t(b)), List.of(Gen.NORMAL, Gen.NORMAL),
                v -> v[0].builder().apply(new SumOfProducts(from, to), v[0], v[1]));
    }

    /** Small networks: compositions where cotangents fan in and broadcasting meets contraction. */
    static Stream<Case> compositeCases() {
        return Stream.of(
                new Case("mlp", List.of(t(4, 3), t(3, 5), t(5), t(5, 2)), List.of(Gen.NORMAL, Gen.NORMAL,
                        Gen.NORMAL, Gen.NORMAL), v -> v[0].matmul(v[1]).add(v[2]).tanh().matmul(v[3])),
                new Case("mlp with erf and softplus, summed", List.of(t(4, 3), t(3, 5), t(1, 5)),
                        List.of(Gen.NORMAL, Gen.NORMAL, Gen.NORMAL),
                        v -> v[0].matmul(v[1]).add(v[2]).erf().softplus().mul(v[0].sum(1).reshape(4, 1)).sum(1)),
                new Case("log-sum-exp", List.of(t(3, 5)), List.of(Gen.DISTINCT), v -> {
                    // x.max(1) would be max(x, 1.0): the (double) overload wins over (int...)
                    Var m = v[0].reduceMax(new int[] {1});
                    Var shifted = v[0].sub(m.reshape(3, 1));
                    return shifted.exp().sum(1).log().add(m);
                }),
                new Case("x * gt(x, y)", List.of(t(3, 4), t(4)), List.of(Gen.ODD_TENTHS, Gen.EVEN_TENTHS),
                        v -> v[0].mul(v[0].greater(v[1]))),
                // a per-channel scale and shift: the scale's cotangent is one sum_of_products (Mul's VJP), a
                // per-row scale's ([2, 1, 4] against [2, 3, 4]) too, a scale [3, 1] against [2, 3, 4] is not (its
                // summed axes 0 and 2 of the product are not consecutive)
                new Case("x * scale + shift", List.of(t(2, 3, 4), t(4), t(4)),
                        List.of(Gen.NORMAL, Gen.NORMAL, Gen.NORMAL), v -> v[0].mul(v[1]).add(v[2]).tanh()),
                new Case("scales of rows and of a middle axis", List.of(t(2, 3, 4), t(2, 1, 4), t(3, 1)),
                        List.of(Gen.NORMAL, Gen.NORMAL, Gen.NORMAL), v -> v[0].mul(v[1]).tanh().mul(v[2])),
                new Case("normalise", List.of(t(2, 6)), List.of(Gen.NORMAL), v -> {
                    Var centred = v[0].sub(v[0].mean(1).reshape(2, 1));
                    return centred.div(centred.square().mean(1).add(1e-3).sqrt().reshape(2, 1));
                }));
    }

    static Stream<Case> allCases() {
        return Stream.of(elementwiseCases(), dotGeneralCases(), structuralCases(), compositeCases())
                .flatMap(c -> c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCases")
    void jvpAgreesWithFiniteDifferences(Case c) {
        Graph g = c.graph();
        Tensor[] x = c.inputs(11);
        double err = DerivativeCheck.jvpVersusFiniteDifferences(g, x, K, EPS, 21);
        Fixtures.closeAll(x);
        assertThat(err).as("JVP vs central differences for %s", c).isLessThanOrEqualTo(FD_TOL);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCases")
    void vjpIsTheAdjointOfJvp(Case c) {
        Graph g = c.graph();
        Tensor[] x = c.inputs(12);
        double gap = DerivativeCheck.adjointGap(g, x, K, 22);
        Fixtures.closeAll(x);
        assertThat(gap).as("<u, J v> vs <J^T u, v> for %s", c).isLessThanOrEqualTo(ADJOINT_TOL);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCases")
    void stackedRulesEqualSeparateEvaluations(Case c) {
        Graph g = c.graph();
        Tensor[] x = c.inputs(13);
        double gap = DerivativeCheck.stackingGap(g, x, K, 23);
        Fixtures.closeAll(x);
        assertThat(gap).as("K stacked vs K single for %s", c).isLessThanOrEqualTo(STACKING_TOL);
    }

    // ---- comparisons: their derivatives are exactly zero ----

    static Stream<Case> comparisonCases() {
        return Stream.of(
                binary("gt", s(3, 1, 4), s(5, 1), Gen.NORMAL, Gen.NORMAL, Var::greater),
                binary("gt", s(2, 3), s(), Gen.NORMAL, Gen.NORMAL, Var::greater),
                binary("eq", s(3, 1, 4), s(5, 1), Gen.EVEN_TENTHS, Gen.EVEN_TENTHS, Var::equalTo),
                binary("eq", s(4), s(4), Gen.NORMAL, Gen.NORMAL, (a, b) -> a.equalTo(a.add(b.mul(0.0)))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("comparisonCases")
    void comparisonsHaveZeroDerivatives(Case c) {
        Graph g = c.graph();
        Tensor[] x = c.inputs(14);
        int n = x.length;
        Tensor[] tangents = new Tensor[n];
        for (int i = 0; i < n; i++) {
            tangents[i] = Tensor.randomNormal(DType.F64, 40 + i, stackedShape(K, x[i].shape()));
        }
        Tensor[] jv = Jvp.of(g, K).evaluate(concat(x, tangents));
        int[] outShape = g.outputs().get(0).shape();
        Tensor ct = Tensor.randomNormal(DType.F64, 50, stackedShape(K, outShape));
        Tensor[] vj = Vjp.of(g, K).evaluate(concat(x, new Tensor[] {ct}));
        // the primal output is a 0/1 mask
        assertThat(Arrays.stream(jv[0].toDoubleArray()).allMatch(v -> v == 0.0 || v == 1.0)).isTrue();
        assertThat(jv[1].shape()).containsExactly(stackedShape(K, outShape));
        assertThat(jv[1].toDoubleArray()).as("JVP of %s", c).containsOnly(0.0);
        for (int i = 0; i < n; i++) {
            assertThat(vj[1 + i].shape()).containsExactly(stackedShape(K, x[i].shape()));
            assertThat(vj[1 + i].toDoubleArray()).as("VJP of %s, operand %d", c, i).containsOnly(0.0);
        }
        assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, K, EPS, 24)).isEqualTo(0.0);
        Fixtures.closeAll(x);
        Fixtures.closeAll(tangents);
        Fixtures.closeAll(jv);
        Fixtures.closeAll(vj);
        ct.close();
    }

    /**
     * Mul's VJP: a per-channel scale's cotangent (a [4] against [2, 3, 4]) is one sum_of_products, the product with
     * the stacked cotangent never formed; a [3, 1] against [2, 3, 4] (summed axes not consecutive) goes through the
     * product and reduce_sum.
     */
    @Test
    void aScalesCotangentIsOneSumOfProducts() {
        Graph g = Graph.trace(List.of(t(2, 3, 4), t(4), t(3, 1)), v -> new Var[] {v[0].mul(v[1]).mul(v[2])});
        Graph vjp = Vjp.of(g, 3);
        assertThat(vjp.equations().stream().filter(e -> e.primitive() instanceof SumOfProducts)).hasSize(1);
        assertThat(vjp.equations().stream().filter(e -> e.primitive() instanceof ReduceSum)).hasSize(1);
        assertThat(vjp.outputs().get(2).shape()).containsExactly(3, 4);
        assertThat(vjp.outputs().get(3).shape()).containsExactly(3, 3, 1);
    }

    @Test
    void comparisonRulesReturnNoTangentAndNoCotangent() {
        for (Primitive p : new Primitive[] {Greater.INSTANCE, Equal.INSTANCE}) {
            Graph g = Fixtures.trace1(v -> {
                Var y = v[0].builder().apply(p, v[0], v[1]);
                assertThat(p.jvp(new Var[] {v[0], v[1]}, y, new Var[] {v[0].reshape(1, 2), null}, 1)).isNull();
                assertThat(p.vjp(new Var[] {v[0], v[1]}, y, y.reshape(1, 2), new boolean[] {true, true}))
                        .containsExactly(null, null);
                return y;
            }, t(2), t(2));
            assertThat(g.equations()).isNotEmpty();
        }
    }

    // ---- the checks themselves catch wrong rules (so a pass above means something) ----

    /** y = 2x with a deliberately wrong rule. */
    private static final class Doubling implements Primitive {
        private final boolean wrongJvp;
        private final boolean mixesStack;

        Doubling(boolean wrongJvp, boolean mixesStack) {
            this.wrongJvp = wrongJvp;
            this.mixesStack = mixesStack;
        }

        @Override
        public String name() {
            return "doubling";
        }

        @Override
        public TensorType outputType(TensorType... in) {
            return in[0];
        }

        @Override
        public Tensor evaluate(Tensor... in) {
            return Elementwise.map(in[0], v -> 2 * v);
        }

        @Override
        public Var jvp(Var[] p, Var out, Var[] t, int k) {
            if (mixesStack) {
                // the sum over the K vectors, broadcast back: right for K = 1 only
                int[] dims = new int[t[0].rank() - 1];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = i + 1;
                }
                return t[0].sum(0).broadcastInDim(t[0].shape(), dims).mul(2.0);
            }
            return t[0].mul(wrongJvp ? 3.0 : 2.0);
        }

        @Override
        public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
            return new Var[] {ct.mul(2.0)};
        }
    }

    private static Graph doublingGraph(Primitive p) {
        return Fixtures.trace1(v -> v[0].builder().apply(p, v[0].sin()).exp(), t(2, 3));
    }

    @Test
    void theChecksDetectAWrongJvp() {
        Graph g = doublingGraph(new Doubling(true, false));
        Tensor[] x = DerivativeCheck.randomInputs(g, 3);
        assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, K, EPS, 1)).isGreaterThan(0.1);
        assertThat(DerivativeCheck.adjointGap(g, x, K, 1)).isGreaterThan(0.1);
        Graph right = doublingGraph(new Doubling(false, false));
        assertThat(DerivativeCheck.jvpVersusFiniteDifferences(right, x, K, EPS, 1)).isLessThan(FD_TOL);
        assertThat(DerivativeCheck.adjointGap(right, x, K, 1)).isLessThan(ADJOINT_TOL);
        assertThat(DerivativeCheck.stackingGap(right, x, K, 1)).isLessThan(STACKING_TOL);
        Fixtures.closeAll(x);
    }

    @Test
    void theStackingCheckDetectsARuleThatMixesTheKVectors() {
        Graph g = doublingGraph(new Doubling(false, true));
        Tensor[] x = DerivativeCheck.randomInputs(g, 4);
        assertThat(DerivativeCheck.stackingGap(g, x, K, 2)).isGreaterThan(0.1);
        // with one vector the rule is right
        assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 1, EPS, 2)).isLessThan(FD_TOL);
        Fixtures.closeAll(x);
    }

    private static int[] stackedShape(int k, int[] shape) {
        return org.ntk4j.tensor.Shapes.prepend(k, shape);
    }

    private static Tensor[] concat(Tensor[] a, Tensor[] b) {
        Tensor[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
