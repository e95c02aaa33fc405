package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** The must-show figures of the infinite-width limit, at the sizes docs/kernels.md quotes. */
class ConvergenceTest {
    private static Tensor inputs() {
        return Tensor.randomNormal(DType.F32, 7, 32, 16);
    }

    /**
     * The mean of 64 eNTKs of a ReLU fcn(depth=2,width=1024) (seeds 0..63) is within 3% (relative Frobenius) of
     * the analytic infinite-width NTK on 32 inputs, and much closer than a single eNTK.
     */
    @Test
    void theMeanOf64ReluEntksAtWidth1024IsWithin3PercentOfTheLimit() {
        try (Tensor x = inputs()) {
            Convergence.Result r = Convergence.run(w -> "fcn(depth=2,width=" + w + ",act=relu)", new int[] {1024}, 4,
                    64, 0, x, UnaryOperator.identity());
            Convergence.Row row = r.rows().get(0);
            System.out.printf("width 1024: single %.4f (%.4f..%.4f), mean of 64 %.4f%n", row.singleMean(),
                    row.singleMin(), row.singleMax(), row.ensemble());
            assertThat(row.ensemble()).isLessThan(0.03);
            assertThat(row.ensemble()).isLessThan(row.singleMean() / 3);
        }
    }

    /** The distance of single eNTKs to the limit falls like width^-1/2: fitted exponent in [−0.65, −0.35]. */
    @Test
    void theDistanceOfSingleEntksFallsWithAnExponentNearMinusOneHalf() {
        try (Tensor x = inputs()) {
            java.util.List<Convergence.Row> handed = new java.util.ArrayList<>();
            Convergence.Result r = Convergence.run(w -> "fcn(depth=2,width=" + w + ",act=relu)",
                    new int[] {64, 128, 256, 512, 1024}, 4, 4, 0, x, e -> e.method(Method.STRUCTURED_DERIVATIVES),
                    handed::add);
            // each row is handed on as it is measured, in the widths' order: the rows of the result
            assertThat(handed).containsExactlyElementsOf(r.rows());
            for (Convergence.Row row : r.rows()) {
                System.out.printf("width %d: single %.4f (%.4f..%.4f), mean of 4 %.4f%n", row.width(), row.singleMean(),
                        row.singleMin(), row.singleMax(), row.ensemble());
            }
            System.out.printf("exponent %.3f%n", r.singleExponent());
            assertThat(r.singleExponent()).isBetween(-0.65, -0.35);
            assertThat(r.rows().get(4).singleMean()).isLessThan(r.rows().get(0).singleMean() / 2.5);
        }
    }

    /** erf and the standard parameterisation converge too (their own limit; the standard NTK at the widths). */
    @Test
    void erfAndTheStandardParameterisationConvergeToTheirLimits() {
        try (Tensor x = inputs()) {
            Convergence.Result erf = Convergence.run(w -> "fcn(depth=2,width=" + w + ",act=erf)",
                    new int[] {64, 4096}, 2, 2, 0, x, UnaryOperator.identity());
            Convergence.Result std = Convergence.run(w -> "fcn(depth=2,width=" + w + ",act=relu,param=standard)",
                    new int[] {64, 4096}, 2, 2, 0, x, UnaryOperator.identity());
            for (Convergence.Result r : new Convergence.Result[] {erf, std}) {
                System.out.printf("widths 64, 4096: %.4f, %.4f%n", r.rows().get(0).singleMean(),
                        r.rows().get(1).singleMean());
                // 64 times the width: about 8 times closer (no floor: a wrong constant in the limit would leave one)
                assertThat(r.rows().get(1).singleMean()).isLessThan(0.06);
                assertThat(r.rows().get(1).singleMean()).isLessThan(r.rows().get(0).singleMean() / 5);
            }
        }
    }

    /**
     * A numerically integrated limit (tanh): single eNTKs of widths 64 and 4096 approach it, about 8 times closer
     * at 64 times the width (a wrong expectation would leave a floor).
     */
    @Test
    void tanhConvergesToItsNumericallyIntegratedLimit() {
        try (Tensor x = inputs()) {
            Convergence.Result r = Convergence.run(w -> "fcn(depth=2,width=" + w + ",act=tanh)", new int[] {64, 4096},
                    2, 2, 0, x, UnaryOperator.identity());
            System.out.printf("tanh widths 64, 4096: %.4f, %.4f%n", r.rows().get(0).singleMean(),
                    r.rows().get(1).singleMean());
            assertThat(r.rows().get(1).singleMean()).isLessThan(0.06);
            assertThat(r.rows().get(1).singleMean()).isLessThan(r.rows().get(0).singleMean() / 5);
        }
    }

    /**
     * The activations after neural-tangents' stax (abs, exp, gaussian and cos in closed form, silu and elu integrated
     * numerically): single eNTKs of widths 64 and 4096 approach each one's limit, as tanh's do (a wrong expectation
     * would leave a floor).
     */
    @Test
    void theNewActivationsConvergeToTheirLimits() {
        try (Tensor x = inputs()) {
            for (String act : new String[] {"abs", "exp", "gaussian", "cos", "silu", "elu"}) {
                // exp at the default w_std = 1.5 overflows (k ← σ_w² e^{2k} + σ_b² from k ≈ 2.25 reaches e^{4000}), and
                // at 0.7 its lognormal fluctuations are still 7 times tanh's at width 4096
                String options = act.equals("exp") ? ",w_std=0.5" : "";
                Convergence.Result r = Convergence.run(w -> "fcn(depth=2,width=" + w + ",act=" + act + options + ")",
                        new int[] {64, 4096}, 2, 2, 0, x, UnaryOperator.identity());
                System.out.printf("%s widths 64, 4096: %.4f, %.4f%n", act, r.rows().get(0).singleMean(),
                        r.rows().get(1).singleMean());
                assertThat(r.rows().get(1).singleMean()).as(act).isLessThan(0.06);
                assertThat(r.rows().get(1).singleMean()).as(act).isLessThan(r.rows().get(0).singleMean() / 5);
            }
        }
    }

    /** A limit of 0 (zero inputs and no biases) is refused before any eNTK: every relative distance was NaN. */
    @Test
    void aZeroLimitIsRefusedBeforeAnyEntk() {
        try (Tensor x = Tensor.zeros(DType.F32, 3, 4)) {
            assertThatThrownBy(() -> Convergence.run(w -> "fcn(depth=1,b_std=0,width=" + w + ")", new int[] {8, 16},
                    1, 1, 0, x, e -> {
                        throw new AssertionError("no eNTK is to be computed");
                    })).isInstanceOf(IllegalArgumentException.class).hasMessage("convergence: the infinite-width NTK "
                    + "of fcn(depth=1,b_std=0,width=8) is 0 on these inputs (all of them 0 and no biases, or w_std = "
                    + "b_std = 0): a distance relative to it means nothing");
        }
    }
}
