package org.ntk4j.infinite;

import org.ntk4j.nn.Activation;
import org.ntk4j.primitive.ErfFunction;

/**
 * The Gaussian expectations ("dual activations") that carry a layer's 2 × 2 covariance through an activation φ in
 * the infinite-width recursions of every architecture ({@link FcnLimit}, and any limit built from the same
 * layers): for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]}.
 *
 * <p>Closed forms for relu, leaky_relu, identity and abs (one piecewise-linear family), erf, gelu, sin, cos, exp and
 * gaussian; tanh, sigmoid, softplus and silu by {@link #quadrature}, a numerical integration whose error is about
 * 1e-16 of the size of φ's values (an absolute error; tested to 1e-13) at every covariance. Relative to an
 * expectation much smaller than that, E[φ'φ'] of tanh at a huge variance, it is larger: about 2e-10 at variance 1e12
 * and 6e-7 at 1e20 against the integral's asymptotic form (measured). elu, whose second derivative jumps at 0 (which
 * the analytic rule's trapezoids would resolve only to about 1e-3), by {@link #eluCross}: v's conditional
 * expectations in closed form, u's integral by Gauss–Legendre panels graded towards its kink. After a
 * normalisation the limits need a fifth, E[φ'(u)φ'(v)·u·v] ({@link #crossAndMoment}): closed where the others are
 * (gelu's excepted) and one more integrand on the same nodes where they are integrated.
 */
final class ActivationDuals {
    /**
     * Step of the trapezoidal rule in the mapped variable t. Measured against closed forms (erf, run through the
     * quadrature) over variances 1e-2..1e8 and correlations up to 1 − 1e-7: 0.2 errs by up to 1e-11, 0.15 by at
     * most 3e-13 (the closed form's own rounding near correlation 1), 0.1 no better.
     */
    static final double STEP = 0.15;
    /** Far from the activation's kink the nodes are spaced STEP · FAR_SCALE = 0.5 in z, ample for the Gaussian. */
    private static final double FAR_SCALE = 0.5 / STEP;
    /** The standard normal is integrated over |z| ≤ Z_MAX: its density there is below 1e-18. */
    private static final double Z_MAX = 9;
    /**
     * The smallest kink scale δ (in standard deviations) the rule resolves: variances beyond ~1e24 are treated as
     * if δ were this, which errs by about the density's mass within δ of the kink, 1e-13.
     */
    private static final double MIN_DELTA = 1e-12;
    /** Nodes t_j = j·STEP for |j| ≤ MAX_INDEX cover |z| ≤ 2 Z_MAX at the smallest δ. */
    private static final int MAX_INDEX = (int) Math.ceil(Math.log(2 * FAR_SCALE / MIN_DELTA
            * Math.sinh(2 * Z_MAX / FAR_SCALE)) / STEP) + 1;
    /** sinh(j·STEP) and cosh(j·STEP), j = 0..MAX_INDEX, computed once. */
    private static final double[] SINH = new double[MAX_INDEX + 1];
    private static final double[] COSH = new double[MAX_INDEX + 1];
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
    /**
     * {@link #crossNodes} where δ = 1 for both variables, 26 outer nodes × 51 inner ones: the unit of
     * {@link #relativeNodes}, computed once.
     */
    static final double UNIT_CROSS_NODES = sideNodes(1) * (2.0 * sideNodes(1) - 1);

    static {
        for (int j = 0; j <= MAX_INDEX; j++) {
            SINH[j] = Math.sinh(j * STEP);
            COSH[j] = Math.cosh(j * STEP);
        }
    }

    private ActivationDuals() {
    }

    /**
     * A worker thread's scratch for {@link #of} and {@link #cross}: the numerical integrations' rules and node
     * values, reused from one expectation to the next so that the hot loops allocate nothing (its arrays grow only
     * when a rule needs more nodes than any before). Not thread-safe: one per worker.
     */
    static final class Scratch {
        /** {φ(x), φ'(x), φ(−x), φ'(−x)} at an outer node. */
        private final double[] fx = new double[4];
        /** The same at an inner node. */
        private final double[] fy = new double[4];
        /** {E[φ(u)φ(v)], E[φ'(u)φ'(v)]} of GELU's variances. */
        private final double[] self = new double[2];
        private final Rule outer = new Rule();
        private final Rule inner = new Rule();
        /** φ and φ' at the inner rule's nodes (indices as its offsets). */
        private double[] value = new double[0];
        private double[] slope = new double[0];
        /** φ'(v)·v at the inner rule's nodes (the integrand of {@link #crossAndMoment}'s third expectation). */
        private double[] times = new double[0];
        /** gelu's numerical third expectation of {@link #crossAndMoment} (its first two are closed). */
        private final double[] gelu = new double[3];
        /**
         * {E[φ(u)φ(v)], E[φ'(u)φ'(v)]}, and E[φ'(u)φ'(v)·u·v] where {@link #crossAndMoment} fills it, for the
         * caller's use ({@link PixelPairs}, {@link ComposedLimit}); never written here.
         */
        final double[] cross = new double[3];
        /** The four expectations of {@link #of}, for the caller's use ({@link FcnLimit}); never written here. */
        final double[] expectations = new double[4];
        /**
         * The weights the numerical cross terms have evaluated, one per inner node at each outer node (one per outer
         * node where the inner integral is a point): their work, which {@link #relativeNodes} predicts; one addition
         * per outer node.
         */
        long weighed;
    }

    /**
     * {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]} for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), allocating
     * its result and scratch (one-off calls; the limits' loops use
     * {@link #of(Activation, double, double, double, double[], Scratch)}).
     *
     * @param act the activation φ (with its slope for leaky_relu)
     * @param k11 Var u, at least 0
     * @param k22 Var v, at least 0
     * @param k12 Cov(u, v), with k12² ≤ k11 k22 up to rounding
     * @return the four expectations
     */
    static double[] of(Activation act, double k11, double k22, double k12) {
        double[] out = new double[4];
        of(act, k11, k22, k12, out, new Scratch());
        return out;
    }

    /**
     * {@link #of(Activation, double, double, double)} for the kind's activation with its default parameter
     * (leaky_relu: slope {@link Activation#DEFAULT_LEAKY_RELU_ALPHA}).
     */
    static double[] of(Activation.Kind kind, double k11, double k22, double k12) {
        return of(new Activation(kind), k11, k22, k12);
    }

    /**
     * {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]} into {@code out}, allocation-free: the cross terms of
     * {@link #cross} and each variable's own mean square.
     *
     * @param act the activation φ (with its slope for leaky_relu)
     * @param k11 Var u, at least 0
     * @param k22 Var v, at least 0
     * @param k12 Cov(u, v), with k12² ≤ k11 k22 up to rounding
     * @param out receives the four expectations
     * @param scratch the calling thread's scratch
     */
    static void of(Activation act, double k11, double k22, double k12, double[] out, Scratch scratch) {
        double e11 = meanSquare(act, k11, scratch);
        double e22 = meanSquare(act, k22, scratch);
        cross(act, k11, k22, k12, out, scratch);
        out[2] = out[0];
        out[3] = out[1];
        out[0] = e11;
        out[1] = e22;
    }

    /**
     * E[φ(u)²] for u ~ N(0, k): see the closed forms at {@link #piecewiseLinearCross}, {@link #erfCross},
     * {@link #geluCross}, {@link #sinCross} (E[sin² u] = (1 − e^{−2k})/2, E[cos² u] = (1 + e^{−2k})/2),
     * {@link #expCross} (E[e^{2u}] = e^{2k}) and {@link #gaussianCross} (E[e^{−2u²}] = 1/√(1 + 4k)), and
     * {@link #quadrature} and {@link #eluCross}.
     */
    static double meanSquare(Activation act, double k, Scratch scratch) {
        Activation.Kind kind = act.function();
        switch (kind) {
            case RELU:
                return piecewiseLinearSquare(0, 1, k);
            case LEAKY_RELU:
                return piecewiseLinearSquare(act.negativeSlope(), 1, k);
            case IDENTITY:
                return piecewiseLinearSquare(1, 1, k);
            case ERF:
                return 2 / Math.PI * Math.asin(2 * k / (1 + 2 * k));
            case GELU:
                geluCross(k, k, k, scratch.self);
                return scratch.self[0];
            case SIN:
                return -Math.expm1(-2 * k) / 2;
            case ABS:
                return piecewiseLinearSquare(-1, 1, k);
            case EXP:
                return Math.exp(2 * k); // ∞ beyond k ≈ 354.9: the kernel's finiteness check names the overflow
            case GAUSSIAN:
                return 1 / Math.sqrt(1 + 4 * k);
            case COS:
                return (1 + Math.exp(-2 * k)) / 2;
            case TANH:
            case SIGMOID:
            case SOFTPLUS:
            case SILU:
                return meanSquare(kind, STEP, pole(kind), Math.sqrt(k), scratch);
            case ELU:
                // the cross term at c = 1, so that identical inputs get the variance to the bit (as relu's)
                eluCross(k, k, k, false, scratch.self, scratch);
                return scratch.self[0];
            default:
                throw new AssertionError(kind);
        }
    }

    /**
     * The work of an expectation's numerical cross term at variance k for both variables, against that at the
     * variances where δ = 1 (k ≤ p², about 2.47 for tanh, 9.9 for sigmoid and softplus), as a factor per variable:
     * √({@link #crossNodes}(k, k) / {@link #UNIT_CROSS_NODES}), so that an expectation of variances k11 and k22 weighs
     * {@code relativeNodes(k11) · relativeNodes(k22)}, the geometric mean of crossNodes(k11, k22) and
     * crossNodes(k22, k11) over that at δ = 1 (within 1% of either; the limits' predicted times weigh each pair by
     * its examples' variances, which this product form lets them sum per example). It grows like log(k)/STEP per
     * variable beyond p²: 1.08 at k = 4, 1.50 at 100, 2.09 at 1e4 for tanh. 1 for the closed forms, and for a zero
     * variance (δ = 1; its inner integral is then a point, which this does not count).
     *
     * <p>It counts the rules for uncorrelated variables (k12 = 0), as the variances alone say nothing of the
     * correlation: a correlated pair's inner rule is narrower (the conditional standard deviation √(1 − c²)·√k22)
     * and centred at the kink, so it weighs fewer nodes (up to one more per outer node, from rounding, at δ = 1),
     * and one per outer node at c = ±1 (the inner integral is a point). On an fcn's pairs (depth 3, tanh, w_std =
     * 2.5, 4 and 10) the weights evaluated are 1.18, 1.48 and 2.16 times those at w_std = 1, this predicts 1.22,
     * 1.53 and 2.23, and the time per expectation measured 1.29, 1.51 and 2.08 times (2026-12-07, night: best of 838
     * alternating rounds of the pairs' expectations, one thread): the rules a variance of δ &lt; 1 makes each
     * expectation build (δ = 1's is built once), about 200 nodes of a logarithm and a square root, cost more than
     * the count says at moderate variances, the weights' exponentials less at large ones.
     *
     * @param act the activation
     * @param k the variance, at least 0
     * @return √(crossNodes(k, k) / UNIT_CROSS_NODES), at least 1
     */
    static double relativeNodes(Activation act, double k) {
        if (!numerical(act) || !(k > 0)) {
            return 1;
        }
        return Math.sqrt(crossNodes(act, k, k) / UNIT_CROSS_NODES);
    }

    /**
     * The weights the cross term of {@link #cross} evaluates for uncorrelated variables of variances k11 and k22
     * (k12 = 0), its work: the outer rule's nodes z1 ≥ 0 within Z_MAX (the mirror symmetry weighs the others with
     * them), each times the inner rule's nodes within Z_MAX, that rule centred at 0 (the kink −l21 z1/l22 is 0 for
     * uncorrelated variables). {@link Scratch#weighed} counts the same as the rule runs. 1 for the closed forms.
     *
     * @param act the activation
     * @param k11 the outer variable's variance, at least 0
     * @param k22 the inner variable's variance, at least 0 (0: the inner integral is a point, one node)
     * @return the number of weights
     */
    static double crossNodes(Activation act, double k11, double k22) {
        if (!numerical(act)) {
            return 1;
        }
        if (act.function() == Activation.Kind.ELU) {
            // its one-dimensional rule's panels, scaled so that variances up to 1 weigh what tanh's δ = 1 does (time
            // per expectation measured 15 µs, tanh's 13 to 18, 2026-12-07); the panels grow like log2 of the deviation
            return UNIT_CROSS_NODES * eluPanels(eluSmallest(Math.sqrt(k11), 0, Math.sqrt(k22)))
                    / eluPanels(eluSmallest(1, 0, 1));
        }
        double pole = pole(act.function());
        double inner = k22 > 0 ? 2 * sideNodes(delta(pole, Math.sqrt(k22))) - 1 : 1;
        return sideNodes(delta(pole, Math.sqrt(k11))) * inner;
    }

    /**
     * The nodes of the rule of this δ centred at 0 that lie in [0, Z_MAX], 0 included: j·STEP ≤ t(Z_MAX) (as
     * {@link Rule#recenter} selects them; the rule is symmetric, so 2·sideNodes − 1 lie within |z| ≤ Z_MAX).
     */
    private static double sideNodes(double delta) {
        return Math.floor(tOf(delta, Z_MAX) / STEP) + 1;
    }

    /** t(m) = asinh((R/δ) sinh(m/R)), the inverse of the rule's map m(t) (R = FAR_SCALE). */
    private static double tOf(double delta, double m) {
        double x = FAR_SCALE / delta * Math.sinh(m / FAR_SCALE);
        return Math.signum(x) * Math.log(Math.abs(x) + Math.sqrt(1 + x * x));
    }

    /**
     * Whether {@link #of} integrates the activation's expectations numerically (tanh, sigmoid, softplus and silu by
     * {@link #quadrature}, elu by {@link #eluCross}).
     *
     * @param act the activation
     * @return true where there is no closed form
     */
    static boolean numerical(Activation act) {
        Activation.Kind kind = act.function();
        return kind == Activation.Kind.TANH || kind == Activation.Kind.SIGMOID || kind == Activation.Kind.SOFTPLUS
                || kind == Activation.Kind.SILU || kind == Activation.Kind.ELU;
    }

    /**
     * Whether {@link #crossAndMoment} ({@code moment}) or {@link #cross} integrates numerically: {@link #numerical}'s
     * activations, and gelu for the moment (its first two expectations are closed, its E[φ'φ' u v] is integrated on
     * {@link #quadrature}'s nodes of δ = 1 up to variance 1, so {@link #relativeNodes}' weight 1 prices it there).
     *
     * @param act the activation
     * @param moment whether the expectation E[φ'(u)φ'(v)·u·v] is needed too
     * @return true where there is no closed form
     */
    static boolean numerical(Activation act, boolean moment) {
        return numerical(act) || moment && act.function() == Activation.Kind.GELU;
    }

    /**
     * {E[φ(u)φ(v)], E[φ'(u)φ'(v)]} alone, into {@code out}: {@link #of} without the variances E[φ(u)²] and E[φ(v)²],
     * which a recursion carrying each input's own variances apart (the pixel-pair maps of {@link PixelPairs}) does
     * not read — erf's two other arcsines, and the numerical integrations' two one-dimensional rules, are skipped.
     *
     * @param act the activation φ (with its slope for leaky_relu)
     * @param k11 Var u, at least 0
     * @param k22 Var v, at least 0
     * @param k12 Cov(u, v), with k12² ≤ k11 k22 up to rounding
     * @param out receives {E[φ(u)φ(v)], E[φ'(u)φ'(v)]}
     * @param scratch the calling thread's scratch
     */
    static void cross(Activation act, double k11, double k22, double k12, double[] out, Scratch scratch) {
        Activation.Kind kind = act.function();
        switch (kind) {
            case RELU:
                piecewiseLinearCross(0, 1, 0, k11, k22, k12, out);
                return;
            case LEAKY_RELU:
                piecewiseLinearCross(act.negativeSlope(), 1, act.negativeSlope(), k11, k22, k12, out);
                return;
            case IDENTITY:
                piecewiseLinearCross(1, 1, 1, k11, k22, k12, out);
                return;
            case ERF:
                erfCross(k11, k22, k12, out);
                return;
            case TANH:
            case SIGMOID:
            case SOFTPLUS:
            case SILU:
                quadratureCross(kind, STEP, k11, k22, k12, false, out, scratch);
                return;
            case GELU:
                geluCross(k11, k22, k12, out);
                return;
            case SIN:
                sinCross(k11, k22, k12, out);
                return;
            case ABS:
                piecewiseLinearCross(-1, 1, 0, k11, k22, k12, out);
                return;
            case EXP:
                expCross(k11, k22, k12, out);
                return;
            case GAUSSIAN:
                gaussianCross(k11, k22, k12, out);
                return;
            case COS:
                // cos = sin(· + π/2): E[cos u cos v] = e^{−(k11 + k22)/2} cosh k12, E[sin u sin v] = … sinh k12
                sinCross(k11, k22, k12, out);
                double sinProduct = out[0];
                out[0] = out[1];
                out[1] = sinProduct;
                return;
            case ELU:
                eluCross(k11, k22, k12, false, out, scratch);
                return;
            default:
                throw new AssertionError(kind);
        }
    }

    /**
     * {E[φ(u)φ(v)], E[φ'(u)φ'(v)], E[φ'(u)φ'(v)·u·v]} into out[0..2]: {@link #cross} and the expectation a
     * normalisation's scale γ needs at the activation after it ({@link ComposedLimit}: γ's gradient is the unit's own
     * u·v, correlated with φ'(u)φ'(v)). Closed forms (a = k11, b = k22, c = k12):
     * <ul>
     * <li>relu, leaky_relu, identity and abs, positively homogeneous (φ'(x)·x = φ(x)): E[φ(u)φ(v)];</li>
     * <li>erf: (4/π) c/D^{3/2} and gaussian: 4 (a'b' + 2c'²)/√D, D = (1 + 2a)(1 + 2b) − 4c², from the Gaussian
     * weight e^{−u²−v²}, which turns Σ into Σ' = Σ(I + 2Σ)^{−1} = [[a + 2Δ, c], [c, b + 2Δ]]/D (Δ = ab − c²) and
     * scales the mass by 1/√D, with E'[u²v²] = a'b' + 2c'² (Isserlis);</li>
     * <li>exp: (c + (a + c)(b + c)) e^{(a + b)/2 + c}, ∂²/∂s∂t of the moment generating function
     * e^{(s²a + 2stc + t²b)/2} at s = t = 1;</li>
     * <li>sin and cos: with cos u cos v = (cos(u − v) + cos(u + v))/2, sin u sin v = (cos(u − v) − cos(u + v))/2 and
     * E[uv cos(su + tv)] = −∂²/∂s∂t e^{−q/2} = (c − (sa + tc)(sc + tb)) e^{−q/2}, q = s²a + 2stc + t²b:
     * P = c − (a + c)(b + c) at (1, 1), Q = c + (a − c)(b − c) at (1, −1), E = (Q e^{−(a+b)/2+c} ± P
     * e^{−(a+b)/2−c})/2 (+ for sin, whose φ' is cos; − for cos, φ' = −sin).</li>
     * </ul>
     * tanh, sigmoid, softplus, silu and gelu by {@link #quadrature}'s rule with the integrand φ'(u)u·φ'(v)v added
     * (gelu's first two stay closed), elu by {@link #eluCross} with v's conditional E[φ'(v)v] in closed form: the same
     * nodes, to the accuracy the class documents (an absolute error of about 1e-16 of the integrand's size,
     * max(1, √(k11 k22)) here; tested to 1e-12 of it). Allocation-free.
     *
     * @param act the activation φ (with its slope for leaky_relu)
     * @param k11 Var u, at least 0
     * @param k22 Var v, at least 0
     * @param k12 Cov(u, v), with k12² ≤ k11 k22 up to rounding
     * @param out receives the three expectations (length at least 3)
     * @param scratch the calling thread's scratch
     */
    static void crossAndMoment(Activation act, double k11, double k22, double k12, double[] out, Scratch scratch) {
        Activation.Kind kind = act.function();
        switch (kind) {
            case TANH:
            case SIGMOID:
            case SOFTPLUS:
            case SILU:
                quadratureCross(kind, STEP, k11, k22, k12, true, out, scratch);
                return;
            case GELU:
                quadratureCross(kind, STEP, k11, k22, k12, true, scratch.gelu, scratch);
                geluCross(k11, k22, k12, out);
                out[2] = scratch.gelu[2];
                return;
            case ELU:
                eluCross(k11, k22, k12, true, out, scratch);
                return;
            default:
                break;
        }
        cross(act, k11, k22, k12, out, scratch);
        switch (kind) {
            case RELU:
            case LEAKY_RELU:
            case IDENTITY:
            case ABS:
                out[2] = out[0];
                return;
            case ERF: {
                double det = 1 + 2 * k11 + 2 * k22 + 4 * covarianceDeterminant(k11, k22, k12);
                out[2] = 4 / Math.PI * (k12 / det) / Math.sqrt(det);
                return;
            }
            case GAUSSIAN: {
                double delta = covarianceDeterminant(k11, k22, k12);
                double det = 1 + 2 * k11 + 2 * k22 + 4 * delta;
                double a = (k11 + 2 * delta) / det;
                double b = (k22 + 2 * delta) / det;
                double c = k12 / det;
                out[2] = 4 * (a * b + 2 * c * c) / Math.sqrt(det);
                return;
            }
            case EXP:
                // out[0] = e^{(a + b)/2 + c}; ∞ where it overflowed (the finiteness check names it)
                out[2] = (k12 + (k11 + k12) * (k22 + k12)) * out[0];
                return;
            case SIN:
            case COS: {
                double s = (k11 + k22) / 2;
                // e^{−(s − c)} ≤ 1 and e^{−(s + c)} ≤ 1 as |c| ≤ s; a factor of 0 drops its (maybe huge) coefficient
                double minus = Math.exp(-(s - k12));
                double plus = Math.exp(-(s + k12));
                double q = minus == 0 ? 0 : (k12 + (k11 - k12) * (k22 - k12)) * minus;
                double p = plus == 0 ? 0 : (k12 - (k11 + k12) * (k22 + k12)) * plus;
                out[2] = kind == Activation.Kind.SIN ? (q + p) / 2 : (q - p) / 2;
                return;
            }
            default:
                throw new AssertionError(kind);
        }
    }

    /**
     * φ(x) = a·min(x, 0) + b·max(x, 0) (neural-tangents' ABRelu): relu (0, 1), leaky_relu (α, 1) for its slope α,
     * identity (1, 1), abs (−1, 1); E[φ(u)²] = a b k11 + (b − a)² k11/2, evaluated as the cross term is at c = 1
     * (norm = k11, J = 1/2): identical inputs keep k12 = k11 = k22 to the bit, so c = 1 exactly at the next layer (as
     * for relu, whose terms these are with a = 0).
     */
    private static double piecewiseLinearSquare(double a, double b, double k) {
        double slope = b - a;
        return times(a * b, k) + times(slope * slope, k) * 0.5;
    }

    /**
     * {@link #piecewiseLinearSquare}'s φ: {E[φ(u)φ(v)], E[φ'(u)φ'(v)]} into {@code out}.
     * With φ = a·x + (b − a)·relu(x) and E[u·relu(v)] = k12/2 (the halves v &gt; 0 and v &lt; 0 are mirror images):
     * E[φ(u)φ(v)] = a b k12 + (b − a)² J₁, E[φ'(u)φ'(v)] = a b + (b − a)² (π − θ)/(2π), J₁ the relu (arc-cosine)
     * kernel. φ'(0) = {@code at0}, as the autodiff takes it (a for relu, leaky_relu and identity: relu' = [x &gt; 0],
     * max(x, αx) follows αx on a tie; 0 for abs, relu(x) + relu(−x)), which matters only for a zero variance.
     */
    private static void piecewiseLinearCross(double a, double b, double at0, double k11, double k22, double k12,
                                             double[] out) {
        double slope = b - a;
        double ab = a * b;
        double square = slope * slope;
        if (!(k11 > 0 && k22 > 0)) {
            // u or v is 0 almost surely: φ(0) = 0, φ'(0) = at0, and E[φ'] = (a + b)/2 for the other if it varies
            out[0] = 0;
            out[1] = k11 > 0 || k22 > 0 ? at0 * (a + b) / 2 : at0 * at0;
            return;
        }
        // √(k11 k22): no overflow or underflow of the product, and exactly k11 when the variances are equal, so that
        // identical inputs keep c = 1 exactly through the layers (near c = 1, θ = arccos c turns a rounding ε of c
        // into an error √(2ε) ≈ 1e-8 of θ, and of E[φ'φ'] = (π − θ)/(2π))
        double norm = k11 == k22 ? k11 : Math.sqrt(k11) * Math.sqrt(k22);
        double c = Math.max(-1, Math.min(1, k12 / norm));
        double theta = Math.acos(c);
        // J(θ) = (sin θ + (π − θ) cos θ)/(2π) before the product: exactly 1/2 at θ = 0, E[φ(u)²] = k11/2 to the bit
        double j = (Math.sin(theta) + (Math.PI - theta) * c) / (2 * Math.PI);
        out[0] = times(ab, k12) + times(square, norm) * j;
        out[1] = ab + square * (Math.PI - theta) / (2 * Math.PI);
    }

    /**
     * coefficient · k, 0 for a coefficient of 0 whatever k: an overflowed variance (∞) stays ∞ in the other term
     * (and is reported as an overflow) instead of 0 · ∞ = NaN, which the next layer read as a zero variance.
     */
    private static double times(double coefficient, double k) {
        return coefficient == 0 ? 0 : coefficient * k;
    }

    /**
     * erf's {E[φ(u)φ(v)], E[φ'(u)φ'(v)]} into {@code out} (its E[φ(u)²] = (2/π) arcsin(2k11/(1 + 2k11)), the
     * first at k12 = k11 = k22).
     */
    private static void erfCross(double k11, double k22, double k12, double[] out) {
        double a = 1 + 2 * k11;
        double b = 1 + 2 * k22;
        // √(ab) without overflow of the product, and exactly a for equal variances (as relu's norm)
        double sab = a == b ? a : Math.sqrt(a) * Math.sqrt(b);
        out[0] = 2 / Math.PI * Math.asin(Math.max(-1, Math.min(1, 2 * k12 / sab)));
        // ab − 4k12² expanded as 1 + 2k11 + 2k22 + 4(k11 k22 − k12²): no difference of two large products (which
        // lost all digits of 1 + 4k for identical inputs of large variance k)
        double det = 1 + 2 * k11 + 2 * k22 + 4 * covarianceDeterminant(k11, k22, k12);
        out[1] = 4 / Math.PI / Math.sqrt(det);
    }

    /**
     * k11 k22 − k12² ≥ 0 as (√(k11 k22) − |k12|)(√(k11 k22) + |k12|): the products k11 k22 and k12² overflowed to ∞
     * for variances above 1e154 and their difference was NaN; 0 for identical inputs (k11 = k22 = k12), and never
     * negative (rounding).
     */
    private static double covarianceDeterminant(double k11, double k22, double k12) {
        double norm = k11 == k22 ? k11 : Math.sqrt(k11) * Math.sqrt(k22);
        double c = Math.abs(k12);
        return Math.max(0, (norm - c) * (norm + c));
    }

    /**
     * The exact GELU φ(x) = x Φ(x), φ' = Φ(x) + x ϕ(x). With A = 1 + k11, B = 1 + k22, ρ = k12/√(AB) and
     * Δ = AB − k12² (derived by writing Φ(u) = P(ζ ≤ u) for an independent ζ ~ N(0, 1) and conditioning u, v on the
     * Gaussian pair (u − ζ₁, v − ζ₂); the derivative term is ∂/∂k12 of the first, Price's theorem):
     * <pre>
     *   E[φ(u)φ(v)]   = k12/4 + k12 arcsin(ρ)/(2π) + (k11 k22 Δ + k12²) / (2π A B √Δ)
     *   E[φ'(u)φ'(v)] = 1/4 + arcsin(ρ)/(2π) + k12 ((A + B) Δ + A B) / (2π A B Δ^{3/2})
     * </pre>
     * Δ ≥ 1 + k11 + k22, so nothing divides by 0; φ(0) = 0 and φ'(0) = 1/2 make the zero-variance cases follow.
     * E[φ(u)²] is the first at k12 = k11 = k22. Into {@code out}, written without products that overflow before the
     * result.
     */
    private static void geluCross(double k11, double k22, double k12, double[] out) {
        double a = 1 + k11;
        double b = 1 + k22;
        double sab = a == b ? a : Math.sqrt(a) * Math.sqrt(b);
        double rho = Math.max(-1, Math.min(1, k12 / sab));
        // Δ = AB − k12² as 1 + k11 + k22 + (k11 k22 − k12²): no difference of two large products (as erf's det)
        double delta = 1 + k11 + k22 + covarianceDeterminant(k11, k22, k12);
        double sd = Math.sqrt(delta);
        double asin = Math.asin(rho) / (2 * Math.PI);
        // (k11 k22 Δ + k12²)/(AB√Δ) = (k11/A)(k22/B)√Δ + ρ²/√Δ
        double nngp = k12 / 4 + k12 * asin + ((k11 / a) * (k22 / b) * sd + rho * rho / sd) / (2 * Math.PI);
        // k12((A + B)Δ + AB)/(AB Δ^{3/2}) = ρ(A + B)/(√(AB)√Δ) + ρ√(AB)/(Δ√Δ)
        double dot = 0.25 + asin + (rho * (a + b) / (sab * sd) + rho * sab / (delta * sd)) / (2 * Math.PI);
        out[0] = nngp;
        out[1] = dot;
    }

    /**
     * sin: E[sin u sin v] = e^{−(k11 + k22)/2} sinh(k12), E[cos u cos v] = e^{−(k11 + k22)/2} cosh(k12) (the real
     * and imaginary parts of E[e^{i(u ± v)}] = e^{−(k11 + k22 ± 2k12)/2}), into {@code out}; E[sin² u] =
     * (1 − e^{−2 k11})/2.
     */
    private static void sinCross(double k11, double k22, double k12, double[] out) {
        double s = (k11 + k22) / 2;
        if (s < 700) {
            double damp = Math.exp(-s);
            out[0] = damp * Math.sinh(k12);
            out[1] = damp * Math.cosh(k12);
        } else {
            // e^{−s} underflows: (e^{k12 − s} ∓ e^{−k12 − s})/2, both exponents ≤ 0 as |k12| ≤ (k11 + k22)/2
            double plus = Math.exp(k12 - s);
            double minus = Math.exp(-k12 - s);
            out[0] = (plus - minus) / 2;
            out[1] = (plus + minus) / 2;
        }
    }

    /**
     * exp (φ' = φ): E[e^u e^v] = e^{(k11 + k22)/2 + k12}, the moment generating function of u + v, into both entries
     * of {@code out}; E[e^{2u}] = e^{2 k11}. Beyond an exponent of about 709.8 these are ∞ (not clamped): the limits'
     * finiteness check then refuses the kernel, naming the overflow, rather than return it.
     */
    private static void expCross(double k11, double k22, double k12, double[] out) {
        double e = Math.exp((k11 + k22) / 2 + k12);
        out[0] = e;
        out[1] = e;
    }

    /**
     * neural-tangents' Gaussian φ(x) = e^{−x²} (a = 1, b = −1), φ' = −2x e^{−x²}: with D = (1 + 2k11)(1 + 2k22) −
     * 4k12² (the determinant of I + 2Σ), E[φ(u)φ(v)] = 1/√D and E[φ'(u)φ'(v)] = 4 k12/D^{3/2} (E[uv e^{−u²−v²}] =
     * ((Σ^{−1} + 2I)^{−1})₁₂ /√D = k12/D^{3/2}); E[φ(u)²] = 1/√(1 + 4k11). Into {@code out}, D written as erf's det
     * is (no difference of large products).
     */
    private static void gaussianCross(double k11, double k22, double k12, double[] out) {
        double det = 1 + 2 * k11 + 2 * k22 + 4 * covarianceDeterminant(k11, k22, k12);
        double root = Math.sqrt(det);
        out[0] = 1 / root;
        out[1] = 4 * (k12 / det) / root;
    }

    /**
     * Gauss–Legendre nodes and weights of order {@link #ELU_ORDER} on [−1, 1], by Newton's iteration on the Legendre
     * polynomial: {@link #eluCross}'s panels.
     */
    private static final int ELU_ORDER = 12;
    private static final double[] GL_NODE = new double[ELU_ORDER];
    private static final double[] GL_WEIGHT = new double[ELU_ORDER];
    /**
     * {@link #eluCross}'s panels are graded down to this fraction of the integrand's smallest scale, the last one
     * reaching 0; measured against 24-point panels of ratio 1.5 graded to 1% of it (variances 1e-3..1e16,
     * correlations to ±(1 − 1e-7) and ±1): within 5e-15 of max(1, variance) (8 points: 4e-10, 10: 2e-12).
     */
    private static final double ELU_SHRINK = 0.25;
    /** The panels stop at this width (a variance of 1e36): what lies within it weighs below 1e-18 of the scale. */
    private static final double ELU_MIN_WIDTH = 1e-18;
    private static final double SQRT_2 = Math.sqrt(2);

    static {
        for (int i = 0; i < ELU_ORDER; i++) {
            double x = Math.cos(Math.PI * (i + 0.75) / (ELU_ORDER + 0.5));
            double derivative = 1;
            for (int iteration = 0; iteration < 100; iteration++) {
                double p1 = 1;
                double p2 = 0;
                for (int j = 1; j <= ELU_ORDER; j++) {
                    double p3 = p2;
                    p2 = p1;
                    p1 = ((2 * j - 1) * x * p2 - (j - 1) * p3) / j;
                }
                derivative = ELU_ORDER * (x * p1 - p2) / (x * x - 1);
                double dx = p1 / derivative;
                x -= dx;
                if (Math.abs(dx) < 1e-16) {
                    break;
                }
            }
            GL_NODE[i] = x;
            GL_WEIGHT[i] = 2 / ((1 - x * x) * derivative * derivative);
        }
    }

    /**
     * elu, φ(x) = x for x &gt; 0 and e^x − 1 otherwise, φ'(x) = 1 and e^x (φ'(0) = 1, the autodiff's value): with
     * u = s11 z1 and v = l21 z1 + l22 z2 (the Cholesky factor), v given z1 is N(μ, σ²), μ = l21 z1, σ = l22, whose
     * expectations have closed forms (r = μ/σ, Φ and ϕ the standard normal's distribution and density):
     * <pre>
     *   E[φ(v) | z1]  = μ Φ(r) + σ ϕ(r) + T − Φ(−r),   E[φ'(v) | z1] = Φ(r) + T,   T = e^{μ + σ²/2} Φ(−r − σ)
     * </pre>
     * (T = E[e^v; v &lt; 0], written e^{−r²/2} erfcx((r + σ)/√2)/2 where r + σ ≥ 0, without overflow). The outer
     * integral over z1 ∈ [0, Z_MAX] and its mirror [−Z_MAX, 0] (φ(u) analytic on each, kinked at 0 where both meet)
     * is a sum of Gauss–Legendre panels [h/2, h] from h = Z_MAX down to {@link #ELU_SHRINK} times the integrand's
     * smallest scale (1, 1/s11 of e^u, 1/|l21| of e^μ, σ/|l21| where r crosses 0; at least
     * {@link #ELU_MIN_WIDTH}), then [0, h]: a kink at the end of every panel, and a panel per octave of scale, so
     * that any variance and correlation is resolved (6 panels of 12 nodes at variances below 1 and correlations
     * away from ±1, 23 at variance 1e8). σ = 0 (c = ±1, or a zero variance) makes the conditional a point, v = μ.
     * Into {@code out}; allocation-free.
     */
    private static void eluCross(double k11, double k22, double k12, boolean moment, double[] out,
                                 Scratch scratch) {
        double s11 = Math.sqrt(k11);
        double s22 = Math.sqrt(k22);
        // the correlation, exactly 1 for identical inputs (as relu's)
        double norm = k11 == k22 ? k11 : s11 * s22;
        double c = norm > 0 ? Math.max(-1, Math.min(1, k12 / norm)) : 0;
        double l21 = c * s22;
        double l22 = s22 * Math.sqrt(Math.max(0, (1 - c) * (1 + c)));
        double smallest = eluSmallest(s11, Math.abs(l21), l22);
        double[] f = scratch.fy;
        double e12 = 0;
        double d12 = 0;
        double m12 = 0;
        for (double hi = Z_MAX; ; hi /= 2) {
            double lo = hi / 2 < smallest ? 0 : hi / 2;
            double mid = (hi + lo) / 2;
            double half = (hi - lo) / 2;
            for (int i = 0; i < ELU_ORDER; i++) {
                double z = mid + half * GL_NODE[i];
                double w = half * GL_WEIGHT[i] * Math.exp(-z * z / 2) * INV_SQRT_2PI;
                for (int sign = -1; sign <= 1; sign += 2) {
                    double z1 = sign * z;
                    double u = s11 * z1;
                    eluConditional(l21 * z1, l22, f);
                    double du = u > 0 ? 1 : Math.exp(u);
                    e12 += w * (u > 0 ? u : Math.expm1(u)) * f[0];
                    d12 += w * du * f[1];
                    m12 += w * du * u * f[2];
                }
            }
            if (lo == 0) {
                break;
            }
        }
        out[0] = e12;
        out[1] = d12;
        if (moment) {
            out[2] = m12;
        }
    }

    /**
     * The width below which {@link #eluCross}'s last panel starts: {@link #ELU_SHRINK} times the smallest of 1, 1/s11,
     * 1/|l21| and l22/|l21| (those of a zero deviation left out), at least {@link #ELU_MIN_WIDTH}.
     */
    private static double eluSmallest(double s11, double l21, double l22) {
        double scale = 1;
        if (s11 > 0) {
            scale = Math.min(scale, 1 / s11);
        }
        if (l21 > 0) {
            scale = Math.min(scale, 1 / l21);
            if (l22 > 0) {
                scale = Math.min(scale, l22 / l21);
            }
        }
        return Math.max(ELU_MIN_WIDTH, ELU_SHRINK * scale);
    }

    /** The number of {@link #eluCross}'s panels (each of {@link #ELU_ORDER} nodes per side) for a smallest width. */
    private static double eluPanels(double smallest) {
        int panels = 1;
        for (double hi = Z_MAX; hi / 2 >= smallest; hi /= 2) {
            panels++;
        }
        return panels;
    }

    /**
     * {E[φ(v)], E[φ'(v)], E[φ'(v)·v]} of elu for v ~ N(μ, σ²) into f[0..2] (see {@link #eluCross}); σ = 0: φ(μ),
     * φ'(μ), φ'(μ)μ. The third: E[v; v &gt; 0] = μΦ(r) + σϕ(r) and E[v e^v; v &lt; 0] = (μ + σ²)T − σϕ(r) (e^v tilts
     * N(μ, σ²) to N(μ + σ², σ²) times e^{μ + σ²/2}), so E[φ'(v)v] = μ E[φ'(v)] + σ² T, the ϕ terms cancelling.
     */
    private static void eluConditional(double mu, double sigma, double[] f) {
        if (!(sigma > 0)) {
            f[0] = mu > 0 ? mu : Math.expm1(mu);
            f[1] = mu > 0 ? 1 : Math.exp(mu);
            f[2] = f[1] * mu;
            return;
        }
        double r = mu / sigma;
        double tail = lowerTail(Math.abs(r)); // Φ(−|r|)
        double below = r >= 0 ? 1 - tail : tail; // Φ(r)
        double above = r >= 0 ? tail : 1 - tail; // Φ(−r)
        double density = Math.exp(-r * r / 2);
        double b = r + sigma;
        // T = e^{μ + σ²/2} Φ(−b); for b ≥ 0 the exponents combine to −r²/2 (μ + σ²/2 − b²/2 = −r²/2)
        double t = b >= 0 ? density * ErfFunction.erfcx(b / SQRT_2) / 2
                : Math.exp(mu + sigma * sigma / 2) * (1 - lowerTail(-b));
        f[0] = mu * below + sigma * density * INV_SQRT_2PI + t - above;
        f[1] = below + t;
        f[2] = mu * f[1] + sigma * sigma * t;
    }

    /** Φ(−t) for t ≥ 0 (+∞ included), to about 1e-15 relative: erfcx(t/√2) e^{−t²/2}/2. */
    private static double lowerTail(double t) {
        return ErfFunction.erfcx(t / SQRT_2) * Math.exp(-t * t / 2) / 2;
    }

    /**
     * The four expectations by numerical integration, for activations without a closed form (tanh, sigmoid,
     * softplus, silu; any analytic φ works). With the Cholesky factor of the covariance, u = l11 z1 and
     * v = l21 z1 + l22 z2 for independent standard normals z1, z2; the outer integral over z1 and, for each z1
     * node, the inner one over z2 are trapezoidal rules in a variable t with z = center + m(t),
     * <pre>
     *   m(t) = R asinh((δ/R) sinh t),   t = j·step,   R = 0.5/step,
     * </pre>
     * nodes spaced step·δ around the center (where φ bends: z1 = 0, and z2 = −l21 z1/l22, where v = 0) and step·R
     * = 0.5 far from it. δ = min(1, p/scale), p the distance of φ's nearest complex singularity from the real axis
     * (π/2 for tanh, π for sigmoid and softplus; 1 for erf and gelu, entire functions that the rule is tested on)
     * and scale the standard deviation multiplying z; the map keeps the integrand analytic in the strip
     * |Im t| &lt; π/4, where the trapezoidal rule converges like e^{−π²/(2 step)}.
     * Unlike a Gauss–Hermite rule of fixed order, whose error grows with the variance (tanh at variance 4: 3e-7 with
     * 128 × 128 nodes), this keeps the error near 1e-16 for all variances, with a node count growing like
     * log(variance): about 2,600 nodes at variance 1 to 4, 10,000 at 1e4, of which the mirror symmetry (z1, z2) →
     * (−z1, −z2) leaves half to weigh, and φ is evaluated once per node of the one-dimensional rules (about 150)
     * unless the correlation is near ±1 ({@link #quadratureCross}). A correlation of ±1 (l22 = 0) or a zero
     * variance makes the inner or both integrals a single point.
     *
     * <p>{@link #of} runs this rule at {@link #STEP} in a {@link Scratch}; this form, allocating its result and
     * scratch, checks the rule at other steps and on the closed-form activations.
     *
     * @param step the step in t ({@link #STEP}; smaller only to check the rule)
     */
    static double[] quadrature(Activation.Kind act, double step, double k11, double k22, double k12) {
        Scratch scratch = new Scratch();
        double[] cross = new double[2];
        quadratureCross(act, step, k11, k22, k12, false, cross, scratch);
        double pole = pole(act);
        return new double[] {meanSquare(act, step, pole, Math.sqrt(k11), scratch),
            meanSquare(act, step, pole, Math.sqrt(k22), scratch), cross[0], cross[1]};
    }

    /**
     * The distance of φ's nearest complex singularity from the real axis (σ's poles ±iπ for sigmoid, softplus and
     * silu; 1 for the entire erf and gelu).
     */
    private static double pole(Activation.Kind act) {
        return act == Activation.Kind.TANH ? Math.PI / 2 : act == Activation.Kind.SIGMOID
                || act == Activation.Kind.SOFTPLUS || act == Activation.Kind.SILU ? Math.PI : 1;
    }

    /**
     * {@link #quadrature}'s {E[φ(u)φ(v)], E[φ'(u)φ'(v)]} alone, into {@code out}. Two savings leave the nodes and
     * weights of the rule as they are:
     * <ul>
     * <li>(z1, z2) and (−z1, −z2) are equally likely and the rule is symmetric under that flip (its outer nodes are
     * ±m_i, and the inner rule of −z1, centred at −kink, has the nodes −(kink + m_j) with the same weights), so the
     * outer loop runs over z1 ≥ 0 and adds the mirrored terms φ(−u)φ(−v): each Gaussian weight serves two nodes, and
     * φ(−x) comes from the exponential of φ(x);</li>
     * <li>the inner rule centred on the kink v = 0 puts its nodes at v = l22·m_j whatever z1 (z2 = kink + m_j,
     * kink = −l21 z1/l22), so φ and φ' there are evaluated once per call, on first use, and only the weights ϕ(z2)
     * change from one z1 to the next. Where the kink is beyond ±Z_MAX (a correlation near ±1 at a large |z1|) the
     * rule is centred at ±Z_MAX instead and φ evaluated at its own nodes.</li>
     * </ul>
     * With {@code moment}, also E[φ'(u)φ'(v)·u·v] into out[2] ({@link #crossAndMoment}): the integrand φ'(u)u·φ'(v)v
     * on the same nodes (φ'(v)v kept per inner node as φ and φ' are; mirrored, φ'(−v)(−v)).
     */
    private static void quadratureCross(Activation.Kind act, double step, double k11, double k22, double k12,
                                        boolean moment, double[] out, Scratch scratch) {
        double pole = pole(act);
        double s11 = Math.sqrt(k11);
        double s22 = Math.sqrt(k22);
        // the correlation, exactly 1 for identical inputs (as relu's)
        double norm = k11 == k22 ? k11 : s11 * s22;
        double c = norm > 0 ? Math.max(-1, Math.min(1, k12 / norm)) : 0;
        double l21 = c * s22;
        double l22 = s22 * Math.sqrt(Math.max(0, (1 - c) * (1 + c)));
        // {φ(x), φ'(x), φ(−x), φ'(−x)}
        double[] fx = scratch.fx;
        double[] fy = scratch.fy;
        Rule outer = scratch.outer.reset(step, delta(pole, Math.max(s11, Math.abs(l21))));
        Rule inner = l22 > 0 ? scratch.inner.reset(step, delta(pole, l22)) : null;
        // φ(l22·m_j) and φ'(l22·m_j) at the inner nodes j within `filled` of the centre index (none yet: −1)
        if (inner != null && scratch.value.length < inner.nodes()) {
            scratch.value = new double[inner.nodes()];
            scratch.slope = new double[inner.nodes()];
            scratch.times = new double[inner.nodes()];
        }
        double[] value = scratch.value;
        double[] slope = scratch.slope;
        double[] times = scratch.times;
        int filled = -1;
        int mirror = inner == null ? 0 : 2 * inner.size; // node j at −z1 is node mirror − j at z1, negated
        double e12 = 0;
        double d12 = 0;
        double m12 = 0;
        for (int i = outer.size; i <= outer.last; i++) { // z1 = m_i ≥ 0 (the outer rule is centred at 0)
            double z1 = outer.offset[i];
            double w1 = outer.weight(i) * (i == outer.size ? 0.5 : 1); // z1 = 0 is its own mirror image
            evaluateBothSigns(act, s11 * z1, fx);
            // Σ w φ(v), Σ w φ'(v) over the inner rule at z1, and Σ w φ(−v), Σ w φ'(−v): the same at −z1
            double value12 = 0;
            double slope12 = 0;
            double valueMirrored = 0;
            double slopeMirrored = 0;
            // Σ w φ'(v)v and Σ w φ'(−v)(−v) (moment only)
            double times12 = 0;
            double timesMirrored = 0;
            if (inner == null) {
                double v = l21 * z1;
                evaluateBothSigns(act, v, fy);
                value12 = fy[0];
                slope12 = fy[1];
                valueMirrored = fy[2];
                slopeMirrored = fy[3];
                times12 = fy[1] * v;
                timesMirrored = -fy[3] * v;
            } else {
                // center on the inner kink v = 0, z2 = −l21 z1/l22; beyond Z_MAX its Gaussian weight is negligible
                double kink = -l21 * z1 / l22;
                inner.recenter(Math.max(-Z_MAX, Math.min(Z_MAX, kink)));
                if (Math.abs(kink) <= Z_MAX) {
                    int radius = Math.max(inner.last - inner.size, inner.size - inner.first);
                    for (; filled < radius; filled++) {
                        int k = filled + 1;
                        double v = l22 * inner.offset[inner.size + k];
                        evaluateBothSigns(act, v, fy);
                        value[inner.size + k] = fy[0];
                        slope[inner.size + k] = fy[1];
                        value[inner.size - k] = fy[2];
                        slope[inner.size - k] = fy[3];
                        times[inner.size + k] = fy[1] * v;
                        times[inner.size - k] = -fy[3] * v;
                    }
                    for (int j = inner.first; j <= inner.last; j++) {
                        double w2 = inner.weight(j);
                        value12 += w2 * value[j];
                        slope12 += w2 * slope[j];
                        valueMirrored += w2 * value[mirror - j];
                        slopeMirrored += w2 * slope[mirror - j];
                        if (moment) {
                            times12 += w2 * times[j];
                            timesMirrored += w2 * times[mirror - j];
                        }
                    }
                } else {
                    for (int j = inner.first; j <= inner.last; j++) {
                        double w2 = inner.weight(j);
                        double v = l21 * z1 + l22 * inner.node(j);
                        evaluateBothSigns(act, v, fy);
                        value12 += w2 * fy[0];
                        slope12 += w2 * fy[1];
                        valueMirrored += w2 * fy[2];
                        slopeMirrored += w2 * fy[3];
                        times12 += w2 * fy[1] * v;
                        timesMirrored -= w2 * fy[3] * v;
                    }
                }
            }
            e12 += w1 * (fx[0] * value12 + fx[2] * valueMirrored);
            d12 += w1 * (fx[1] * slope12 + fx[3] * slopeMirrored);
            double u = s11 * z1;
            m12 += w1 * u * (fx[1] * times12 - fx[3] * timesMirrored);
            scratch.weighed += inner == null ? 1 : inner.last - inner.first + 1;
        }
        out[0] = e12;
        out[1] = d12;
        if (moment) {
            out[2] = m12;
        }
    }

    /** E[φ(s z)²] for z ~ N(0, 1), the one-dimensional rule of {@link #quadrature}. */
    private static double meanSquare(Activation.Kind act, double step, double pole, double scale, Scratch scratch) {
        Rule rule = scratch.outer.reset(step, delta(pole, scale));
        double[] f = scratch.fx;
        double sum = 0;
        for (int i = rule.first; i <= rule.last; i++) {
            evaluate(act, scale * rule.node(i), f, 0);
            sum += rule.weight(i) * f[0] * f[0];
        }
        return sum;
    }

    /** The kink's scale in standard deviations, min(1, p/scale), at least MIN_DELTA (scale 0: 1). */
    private static double delta(double pole, double scale) {
        return Math.max(MIN_DELTA, Math.min(1, pole / scale));
    }

    /**
     * {φ(x), φ'(x)} of tanh, sigmoid, softplus or silu into out[at], out[at + 1], from one exponential of −|x| (no
     * overflow at any x); erf and gelu too, whose closed forms the rule is checked against.
     */
    private static void evaluate(Activation.Kind act, double x, double[] out, int at) {
        double ax = Math.abs(x);
        if (act == Activation.Kind.ERF || act == Activation.Kind.GELU) {
            boolean erf = act == Activation.Kind.ERF;
            double e = ErfFunction.erf(erf ? x : x / Math.sqrt(2));
            out[at] = erf ? e : x * (1 + e) / 2;
            out[at + 1] = erf ? 2 / Math.sqrt(Math.PI) * Math.exp(-x * x)
                    : (1 + e) / 2 + x * Math.exp(-x * x / 2) * INV_SQRT_2PI;
            return;
        }
        if (act == Activation.Kind.TANH) {
            double e = Math.exp(-2 * ax);
            double t = (1 - e) / (1 + e);
            out[at] = x < 0 ? -t : t;
            out[at + 1] = 4 * e / ((1 + e) * (1 + e)); // 1 − tanh² = sech²
            return;
        }
        double e = Math.exp(-ax);
        double sigmoid = x >= 0 ? 1 / (1 + e) : e / (1 + e);
        if (act == Activation.Kind.SIGMOID) {
            out[at] = sigmoid;
            out[at + 1] = e / ((1 + e) * (1 + e)); // σ(1 − σ)
        } else if (act == Activation.Kind.SOFTPLUS) {
            out[at] = Math.max(x, 0) + Math.log1p(e); // ln(1 + e^x) without overflow
            out[at + 1] = sigmoid;
        } else if (act == Activation.Kind.SILU) {
            out[at] = x * sigmoid;
            out[at + 1] = sigmoid + x * (e / ((1 + e) * (1 + e))); // σ + x σ(1 − σ)
        } else {
            throw new AssertionError(act);
        }
    }

    /**
     * {φ(x), φ'(x), φ(−x), φ'(−x)} into {@code out}: for tanh, sigmoid, softplus and silu from one exponential of −|x|
     * that {@link #evaluate} takes (tanh(−x) = −tanh x, σ(−x) = e^{−x}σ(x) = 1 − σ(x), softplus(−x) = softplus(x) −
     * x, written without cancellation), for erf and gelu by two evaluations.
     */
    private static void evaluateBothSigns(Activation.Kind act, double x, double[] out) {
        double ax = Math.abs(x);
        if (act == Activation.Kind.TANH) {
            double e = Math.exp(-2 * ax);
            double t = (1 - e) / (1 + e);
            double sech2 = 4 * e / ((1 + e) * (1 + e));
            out[0] = x < 0 ? -t : t;
            out[1] = sech2;
            out[2] = -out[0];
            out[3] = sech2;
        } else if (act == Activation.Kind.SIGMOID || act == Activation.Kind.SOFTPLUS || act == Activation.Kind.SILU) {
            double e = Math.exp(-ax);
            double large = 1 / (1 + e); // σ(|x|)
            double small = e / (1 + e); // σ(−|x|)
            double plus = x >= 0 ? large : small; // σ(x)
            double minus = x >= 0 ? small : large; // σ(−x)
            if (act == Activation.Kind.SIGMOID) {
                double derivative = e / ((1 + e) * (1 + e));
                out[0] = plus;
                out[1] = derivative;
                out[2] = minus;
                out[3] = derivative;
            } else if (act == Activation.Kind.SILU) {
                // silu(±x) = ±x σ(±x), silu'(±x) = σ(±x) ± x σ(x)σ(−x)
                double curvature = x * (e / ((1 + e) * (1 + e)));
                out[0] = x * plus;
                out[1] = plus + curvature;
                out[2] = -x * minus;
                out[3] = minus - curvature;
            } else {
                double log = Math.log1p(e);
                out[0] = Math.max(x, 0) + log;
                out[1] = plus;
                out[2] = Math.max(-x, 0) + log;
                out[3] = minus;
            }
        } else {
            evaluate(act, x, out, 0);
            evaluate(act, -x, out, 2);
        }
    }

    /**
     * The trapezoidal rule of {@link #quadrature} for one δ: offsets m(t_j) and weights step·m'(t_j)/√(2π), then
     * shifted to a center; node(j) = center + m_j, weight(j) = step·m'(t_j)·ϕ(node), for the j with
     * |node| ≤ Z_MAX. The offsets and weights of δ = 1 at {@link #STEP} (every variance up to p², most of them) are
     * computed once for all ({@link #UNIT}); a {@link Scratch}'s rule computes those of another δ into its own
     * arrays, and keeps them while the next expectation asks for the same δ.
     */
    private static final class Rule {
        /** The offsets and Jacobians of δ = 1 at STEP, which every scratch's rule shares. */
        private static final Rule UNIT = new Rule().compute(STEP, 1);

        private double step;
        private double delta;
        /** The index of offset 0: the offsets are j = 0..2·size. */
        int size;
        double[] offset;
        private double[] jacobian;
        private double center;
        /** The first and last index of the nodes within |z| ≤ Z_MAX at the current center. */
        int first;
        int last;
        /** This rule's own offsets and Jacobians (grown on demand) and the step and δ they hold (none: NaN). */
        private double[] ownOffset = new double[0];
        private double[] ownJacobian = new double[0];
        private double ownStep = Double.NaN;
        private double ownDelta = Double.NaN;
        private int ownSize;

        /** The rule of a step and δ, centred at 0: UNIT's arrays, or this rule's own (computed unless they hold it). */
        Rule reset(double step, double delta) {
            if (step == STEP && delta == 1) {
                this.step = step;
                this.delta = delta;
                size = UNIT.size;
                offset = UNIT.offset;
                jacobian = UNIT.jacobian;
                recenter(0);
                return this;
            }
            return compute(step, delta);
        }

        /** The rule of a step and δ in this rule's own arrays, centred at 0. */
        private Rule compute(double step, double delta) {
            this.step = step;
            this.delta = delta;
            if (step != ownStep || delta != ownDelta) {
                double ratio = delta / FAR_SCALE;
                // |m| ≤ 2 Z_MAX: every node of |z| ≤ Z_MAX for centers in [−Z_MAX, Z_MAX]
                ownSize = (int) Math.ceil(tOf(2 * Z_MAX) / step);
                if (ownOffset.length < 2 * ownSize + 1) {
                    ownOffset = new double[2 * ownSize + 1];
                    ownJacobian = new double[2 * ownSize + 1];
                }
                boolean tabled = step == STEP && ownSize <= MAX_INDEX;
                for (int j = 0; j <= ownSize; j++) {
                    double sh = tabled ? SINH[j] : Math.sinh(j * step);
                    double ch = tabled ? COSH[j] : Math.cosh(j * step);
                    double q = ratio * sh;
                    double root = Math.sqrt(1 + q * q);
                    double m = FAR_SCALE * Math.log(q + root); // R asinh(q), q ≥ 0
                    double dm = step * delta * ch / root * INV_SQRT_2PI;
                    ownOffset[ownSize + j] = m;
                    ownOffset[ownSize - j] = -m;
                    ownJacobian[ownSize + j] = dm;
                    ownJacobian[ownSize - j] = dm;
                }
                ownStep = step;
                ownDelta = delta;
            }
            size = ownSize;
            offset = ownOffset;
            jacobian = ownJacobian;
            recenter(0);
            return this;
        }

        /** The number of offsets, 2·size + 1 (the arrays may be longer). */
        int nodes() {
            return 2 * size + 1;
        }

        /** t(m) = asinh((R/δ) sinh(m/R)), the inverse of m(t). */
        private double tOf(double m) {
            return ActivationDuals.tOf(delta, m);
        }

        /** Moves the rule to a center in [−Z_MAX, Z_MAX] and selects the nodes within |z| ≤ Z_MAX. */
        void recenter(double c) {
            center = c;
            first = Math.max(0, (int) Math.ceil(tOf(-Z_MAX - c) / step) + size);
            last = Math.min(2 * size, (int) Math.floor(tOf(Z_MAX - c) / step) + size);
        }

        double node(int j) {
            return center + offset[j];
        }

        double weight(int j) {
            double z = node(j);
            return jacobian[j] * Math.exp(-z * z / 2);
        }
    }
}
