package org.ntk4j.train;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The hyper-parameter checks name the options of {@code ntk4j train} that set them. */
class OptimizerTest {
    @Test
    void outOfRangeValuesNameTheTrainOption() {
        assertThatThrownBy(() -> Optimizer.adam(0.9, 0.999, 0, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--eps: expected a finite value > 0, got 0.0");
        assertThatThrownBy(() -> Optimizer.adam(0.9, 0.999, Double.POSITIVE_INFINITY, 0))
                .hasMessage("--eps: expected a finite value > 0, got Infinity");
        assertThatThrownBy(() -> Optimizer.adam(1, 0.999, 1e-8, 0))
                .hasMessage("--beta1: expected a value in [0.0, 1.0), got 1.0");
        assertThatThrownBy(() -> Optimizer.sgd(0.9, -1))
                .hasMessage("--weight-decay: expected a finite value ≥ 0, got -1.0");
        assertThatThrownBy(() -> Optimizer.sgd(-0.5, 0))
                .hasMessage("--momentum: expected a value in [0.0, 1.0), got -0.5");
    }
}
