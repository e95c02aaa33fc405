package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ArrayAssertsTest {
    @Test
    void reportsTheFirstDifferenceNotTheArrays() {
        float[] expected = new float[50_000];
        float[] actual = expected.clone();
        actual[123] = 2;
        assertThatThrownBy(() -> ArrayAsserts.assertSameElements("x", actual, expected))
                .hasMessage("x: 1 of 50000 elements differ; first at index 123: 2.0, expected 0.0");
        assertThatThrownBy(() -> ArrayAsserts.assertSameElements("y", new double[] {Double.NaN}, new double[] {1}))
                .hasMessage("y: 1 of 1 elements differ; first at index 0: NaN, expected 1.0");
    }
}
