package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import org.ntk4j.tensor.Tensor;

/**
 * Checks that a reference the ONNX tests compare ntk4j with varies across examples by clearly more than the
 * comparison's tolerance, so that a test that passes could have failed: a network whose output (or kernel) hardly
 * depends on its input, such as a deep one with badly scaled batch-norm statistics, matches an import that computes
 * the wrong function of x as well as the right one.
 *
 * <p>The reference's blocks are its slices along the leading example axes: one axis for a forward pass [N, ...], two
 * for a kernel [N1, N2, ...] (the example pairs; a kernel that does not depend on x has equal blocks). The margin is
 * {@value #MARGIN}: a reference that varies by only a few times the tolerance would let an error of that size, from
 * a path of x that is wrong in part, pass.
 */
final class Signal {
    /** How many times the tolerance the reference must vary by across its example blocks. */
    static final double MARGIN = 100;

    private Signal() {
    }

    /**
     * For a comparison by relative Frobenius error below {@code tolerance}: the relative error of the nearest
     * reference that does not depend on the examples (each element replaced by its mean over the blocks), ||ref −
     * mean|| / ||ref||, must be at least {@link #MARGIN} times {@code tolerance}. An import that ignored x, or
     * any output the same for every example, would fail the comparison by at least that much.
     */
    static void assertVariesRelative(Tensor ref, int exampleAxes, double tolerance, String what) {
        assertVariesRelative(ref.toDoubleArray(), blocks(ref, exampleAxes), tolerance, what);
    }

    /**
     * {@link #assertVariesRelative(Tensor, int, double, String)} of a row-major array of {@code blocks} example
     * blocks.
     */
    static void assertVariesRelative(double[] ref, int blocks, double tolerance, String what) {
        double spread = relativeSpread(ref, blocks);
        System.out.printf("signal of %s: %.2e relative, %.0f x the tolerance %.1e%n", what, spread,
                spread / tolerance, tolerance);
        assertThat(spread).as("%s: the reference varies across its %d example blocks by %.2e (relative), less than "
                + "%.0f x the tolerance %.1e; the comparison could not see a wrong path from x", what, blocks, spread,
                MARGIN, tolerance).isGreaterThanOrEqualTo(MARGIN * tolerance);
    }

    /**
     * For an element-wise comparison within {@code tolerance} (absolute): the largest |ref_b[j] − ref_0[j]| over
     * the blocks b (flattened row-major, {@code blocks} of them) and elements j must be at least {@link #MARGIN}
     * times {@code tolerance}.
     */
    static void assertVariesAbsolute(double[] ref, int blocks, double tolerance, String what) {
        double spread = maxDeviationFromFirst(ref, blocks);
        System.out.printf("signal of %s: %.2e absolute, %.0f x the tolerance %.1e%n", what, spread,
                spread / tolerance, tolerance);
        assertThat(spread).as("%s: the reference varies across its %d example blocks by %.2e at most, less than "
                + "%.0f x the tolerance %.1e; the comparison could not see a wrong path from x", what, blocks, spread,
                MARGIN, tolerance).isGreaterThanOrEqualTo(MARGIN * tolerance);
    }

    /** {@link #assertVariesAbsolute(double[], int, double, String)} of a tensor's leading {@code exampleAxes}. */
    static void assertVariesAbsolute(Tensor ref, int exampleAxes, double tolerance, String what) {
        assertVariesAbsolute(ref.toDoubleArray(), blocks(ref, exampleAxes), tolerance, what);
    }

    /** ||ref − mean over the blocks|| / ||ref||, the blocks being the slices along the leading exampleAxes. */
    static double relativeSpread(Tensor ref, int exampleAxes) {
        return relativeSpread(ref.toDoubleArray(), blocks(ref, exampleAxes));
    }

    /** ||ref − mean over the blocks|| / ||ref|| of a row-major array of {@code blocks} equal blocks. */
    static double relativeSpread(double[] ref, int blocks) {
        int per = ref.length / blocks;
        double num = 0;
        double den = 0;
        for (int j = 0; j < per; j++) {
            double mean = 0;
            for (int b = 0; b < blocks; b++) {
                mean += ref[b * per + j];
            }
            mean /= blocks;
            for (int b = 0; b < blocks; b++) {
                double v = ref[b * per + j];
                num += (v - mean) * (v - mean);
                den += v * v;
            }
        }
        return den == 0 ? 0 : Math.sqrt(num / den);
    }

    /** max over blocks b and elements j of |ref_b[j] − ref_0[j]|. */
    static double maxDeviationFromFirst(double[] ref, int blocks) {
        int per = ref.length / blocks;
        double r = 0;
        for (int b = 1; b < blocks; b++) {
            for (int j = 0; j < per; j++) {
                r = Math.max(r, Math.abs(ref[b * per + j] - ref[j]));
            }
        }
        return r;
    }

    private static int blocks(Tensor ref, int exampleAxes) {
        int blocks = 1;
        for (int i = 0; i < exampleAxes; i++) {
            blocks *= ref.dim(i);
        }
        return blocks;
    }
}
