package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.Tensor;

/** The ONNX tests' check that a reference varies across examples, against spreads worked out by hand. */
class SignalTest {
    @Test
    void relativeSpreadIsTheDistanceToTheMeanOverTheExamples() {
        // two examples of two outputs: means (2, 0); deviations (±1, ±1); ||ref||² = 1 + 1 + 9 + 1
        try (Tensor y = Tensor.of(new double[] {1, 1, 3, -1}, 2, 2)) {
            assertThat(Signal.relativeSpread(y, 1)).isCloseTo(Math.sqrt(4.0 / 12), within());
            Signal.assertVariesRelative(y, 1, 1e-3, "y");
            // 0.577 < 100 × 0.01
            assertThatThrownBy(() -> Signal.assertVariesRelative(y, 1, 1e-2, "y")).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("could not see a wrong path from x");
        }
    }

    @Test
    void aReferenceThatHardlyDependsOnTheExamplesIsRefused() {
        // MobileNetV2's float32 outputs with random running statistics: equal to 2e-7, under a 1e-5 comparison
        try (Tensor y = Tensor.of(new double[] {0.5, -0.25, 0.5 + 2e-7, -0.25}, 2, 2);
             Tensor k = Tensor.of(new double[] {2, 2, 2, 2}, 2, 2)) {
            assertThatThrownBy(() -> Signal.assertVariesRelative(y, 1, 1e-5, "y")).isInstanceOf(AssertionError.class);
            // a kernel equal for every pair of examples: no signal at all
            assertThat(Signal.relativeSpread(k, 2)).isZero();
            assertThatThrownBy(() -> Signal.assertVariesRelative(k, 2, 1e-12, "k")).isInstanceOf(AssertionError.class);
            // the same four values as one example's four outputs vary, but not across examples
            assertThat(Signal.relativeSpread(y, 0)).isZero();
        }
    }

    @Test
    void absoluteSpreadIsTheLargestDeviationFromTheFirstExample() {
        double[] y = {1, 2, 1.5, 2, 1, 1.75};
        assertThat(Signal.maxDeviationFromFirst(y, 3)).isEqualTo(0.5);
        Signal.assertVariesAbsolute(y, 3, 5e-3, "y");
        assertThatThrownBy(() -> Signal.assertVariesAbsolute(y, 3, 6e-3, "y")).isInstanceOf(AssertionError.class);
    }

    private static org.assertj.core.data.Offset<Double> within() {
        return org.assertj.core.data.Offset.offset(1e-15);
    }
}
