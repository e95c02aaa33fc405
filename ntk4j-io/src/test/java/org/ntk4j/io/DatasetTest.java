package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class DatasetTest {
    private static Dataset threeExamples() {
        return new Dataset("d", Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 3, 2), new int[] {2, 0, 1}, 4);
    }

    @Test
    void accessorsAndOneHot() {
        try (Dataset d = threeExamples(); Tensor y = d.oneHot(DType.F64, 4)) {
            assertThat(d.size()).isEqualTo(3);
            assertThat(d.features()).isEqualTo(2);
            assertThat(d.exampleShape()).containsExactly(2);
            assertThat(d.hasLabels()).isTrue();
            assertThat(y.shape()).containsExactly(3, 4);
            assertThat(y.toDoubleArray()).containsExactly(0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0);
        }
    }

    @Test
    void labelsOutOfRangeForTheModel() {
        try (Dataset d = threeExamples()) {
            assertThatThrownBy(() -> d.requireLabelsBelow(2, "a model with out=2"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("d: label 2 of example 0 is outside [0, 2) for a model with out=2");
            assertThatThrownBy(() -> d.oneHot(DType.F32, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("d: label 2 of example 0 is outside [0, 2) for one-hot targets with 2 classes");
            d.requireLabelsBelow(3, "ok"); // no exception
        }
        try (Dataset u = new Dataset("u", Tensor.zeros(DType.F32, 2, 1), null, 0)) {
            assertThatThrownBy(() -> u.requireLabelsBelow(10, "predict"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("u: has no labels; predict needs labelled data (see docs/data.md)");
        }
    }

    @Test
    void constructorChecks() {
        assertThatThrownBy(() -> new Dataset("d", Tensor.zeros(DType.F32, 2, 1), new int[] {0, 3}, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("d: label 3 of example 1 is outside [0, 3)");
        assertThatThrownBy(() -> new Dataset("d", Tensor.zeros(DType.F32, 2, 1), new int[] {0}, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("d: 1 labels for 2 examples");
        assertThatThrownBy(() -> new Dataset("d", Tensor.zeros(DType.F32, 0, 1), null, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("d: has no examples (shape [0, 1])");
        assertThatThrownBy(() -> new Dataset("d", Tensor.of(new double[] {1, Double.NaN}, 1, 2), null, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("d: contains NaN at flat index 1 (example 0)");
        assertThatThrownBy(() -> new Dataset("d", Tensor.zeros(DType.F32, 1, 1), null, 5))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("d: numClasses=5 given without labels");
    }

    /** Labels are class indices below 2^24: one rule, {@link Dataset#notClassIndex}, for every source and command. */
    @Test
    void classIndicesAreWholeNumbersBelow2To24() {
        assertThat(Dataset.MAX_CLASSES).isEqualTo(16_777_216);
        assertThat(Dataset.notClassIndex(0)).isNull();
        assertThat(Dataset.notClassIndex(16_777_215)).isNull();
        assertThat(Dataset.notClassIndex(16_777_216)).isEqualTo("is 2^24 = 16777216 or more, beyond any class count "
                + "ntk4j takes (not class indices?)");
        assertThat(Dataset.notClassIndex(2e9)).startsWith("is 2^24 = 16777216 or more");
        assertThat(Dataset.notClassIndex(-1)).isEqualTo("is negative");
        assertThat(Dataset.notClassIndex(1.5)).isEqualTo("is not a whole number");
        assertThat(Dataset.notClassIndex(Double.NaN)).isEqualTo("is not a whole number");
        assertThat(Dataset.notClassIndex(Double.POSITIVE_INFINITY)).isEqualTo("is not a whole number");
        assertThat(Dataset.requireClassIndex(16_777_215L, 4, "s", null)).isEqualTo(16_777_215);
        assertThatThrownBy(() -> Dataset.requireClassIndex(2_000_000_000L, 7, "data source 'x'", "y.npy"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("data source 'x': label 2000000000 of example 7 in y.npy is 2^24 = 16777216 or more, "
                        + "beyond any class count ntk4j takes (not class indices?); labels are class indices 0, 1, "
                        + "...");
        // Long.MAX_VALUE, which an int cast would wrap, and a negative one
        assertThatThrownBy(() -> Dataset.requireClassIndex(Long.MAX_VALUE, 0, "s", null))
                .hasMessageStartingWith("s: label 9223372036854775807 of example 0 is 2^24");
        assertThatThrownBy(() -> Dataset.requireClassIndex(-3, 2, "s", null))
                .hasMessage("s: label -3 of example 2 is negative; labels are class indices 0, 1, ...");
        // a dataset of more classes than that is refused as built
        assertThatThrownBy(() -> new Dataset("d", Tensor.zeros(DType.F32, 1, 1), new int[] {0}, 16_777_217))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("d: numClasses must be in [1, 2^24 = 16777216], got 16777217");
        try (Dataset d = new Dataset("d", Tensor.zeros(DType.F32, 1, 1), new int[] {16_777_215}, 16_777_216)) {
            assertThat(d.numClasses()).isEqualTo(16_777_216);
        }
    }

    @Test
    void headRowsAndWithX() {
        try (Dataset d = threeExamples();
             Dataset h = d.head(2);
             Dataset r = d.rows(1, 3)) {
            assertThat(h.x().toDoubleArray()).containsExactly(1, 2, 3, 4);
            assertThat(h.labels()).containsExactly(2, 0);
            assertThat(h.name()).isEqualTo("d:2");
            assertThat(r.x().toDoubleArray()).containsExactly(3, 4, 5, 6);
            assertThat(r.labels()).containsExactly(0, 1);
            assertThat(r.numClasses()).isEqualTo(4);
            assertThatThrownBy(() -> d.head(4)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("d: cannot take the first 4 of 3 examples");
            assertThatThrownBy(() -> d.rows(2, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("d: cannot take examples [2, 2) of 3");
            try (Tensor wrong = Tensor.zeros(DType.F64, 2, 2)) {
                assertThatThrownBy(() -> d.withX(wrong)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("d: new inputs of shape [2, 2] do not have 3 examples");
            }
        }
    }
}
