package org.ntk4j;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The array assertion reports one line, never the arrays. */
class FixturesTest {
    @Test
    void sameElementsNamesTheFirstDifferenceAndTheCount() {
        double[] expected = new double[100_000];
        double[] actual = expected.clone();
        actual[70_001] = 0.5;
        actual[99_999] = Double.NaN;
        assertThatThrownBy(() -> Fixtures.assertSameElements("kernel", actual, expected))
                .isInstanceOf(AssertionError.class)
                .hasMessage("kernel: 2 of 100000 elements differ; first at index 70001: 0.5, expected 0.0");
        assertThatThrownBy(() -> Fixtures.assertSameElements("w", new float[] {1, -0f}, new float[] {1, 0f}))
                .hasMessage("w: 1 of 2 elements differ; first at index 1: -0.0, expected 0.0");
        assertThatThrownBy(() -> Fixtures.assertSameElements("x", new double[3], new double[4]))
                .hasMessage("x: length 3, expected 4");
    }

    @Test
    void sameElementsPassesOnEqualArraysWithNaN() {
        assertThatCode(() -> Fixtures.assertSameElements("x", new double[] {1, Double.NaN}, new double[] {1,
            Double.NaN})).doesNotThrowAnyException();
        assertThatCode(() -> Fixtures.assertSameElements("x", new float[] {Float.NaN}, new float[] {Float.NaN}))
                .doesNotThrowAnyException();
    }
}
