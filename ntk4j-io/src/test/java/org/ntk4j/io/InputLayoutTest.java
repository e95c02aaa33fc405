package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Dense;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Serial;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class InputLayoutTest {
    private static final Model FCN = Zoo.parse("fcn(depth=1,width=8,out=3)");
    private static final Model CNN = Zoo.parse("cnn(depth=1,channels=2,out=3)");
    private static final Model TRANSFORMER = Zoo.parse("transformer(layers=1,dim=8,heads=2,out=3)");
    /** A model built in code whose first layer is dense: it needs flat [D] examples to give logits [K]. */
    private static final Model DENSE_FIRST = new Model(new Serial(List.of(new Dense(3, 1.0, 0.1,
            Parameterization.parse("ntk")))), "dense-first");

    @Test
    void imagesStayNhwcForEveryZooModel() {
        int[] nhwc = {28, 28, 1};
        assertThat(InputLayout.exampleShapeFor(FCN, nhwc)).containsExactly(28, 28, 1);
        assertThat(InputLayout.exampleShapeFor(CNN, nhwc)).containsExactly(28, 28, 1);
        assertThat(InputLayout.exampleShapeFor(TRANSFORMER, nhwc)).containsExactly(28, 28, 1);
    }

    @Test
    void denseFirstModelsGetFlatExamples() {
        assertThat(InputLayout.exampleShapeFor(DENSE_FIRST, new int[] {28, 28, 1})).containsExactly(784);
        try (Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2, 1);
             Tensor flat = InputLayout.forModel(DENSE_FIRST, x)) {
            assertThat(flat.shape()).containsExactly(2, 4);
            assertThat(flat.toDoubleArray()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
            assertThat(x.isClosed()).as("forModel copies; the caller still owns x").isFalse();
        }
    }

    @Test
    void flatSquareExamplesBecomeOneChannelImagesForConvolutions() {
        assertThat(InputLayout.exampleShapeFor(CNN, new int[] {784})).containsExactly(28, 28, 1);
        assertThat(InputLayout.exampleShapeFor(FCN, new int[] {784})).containsExactly(784);
    }

    @Test
    void nothingFitsGivesBothShapesAndTheModelsComplaint() {
        assertThatThrownBy(() -> InputLayout.exampleShapeFor(CNN, new int[] {10}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shape mismatch: data examples of shape [10] do not fit model cnn(depth=1,channels=2,out=3)"
                        + " (tried [10]): to_image: expects per-example inputs [H, W] or [H, W, C], got [10]");
        assertThatThrownBy(() -> InputLayout.exampleShapeFor(CNN, new int[] {2, 2, 2, 2}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("shape mismatch: data examples of shape [2, 2, 2, 2] do not fit model "
                        + "cnn(depth=1,channels=2,out=3) (tried [2, 2, 2, 2], [16]): to_image");
        try (Dataset d = new Dataset("d.npy", Tensor.zeros(DType.F32, 2, 10), null, 0)) {
            assertThatThrownBy(() -> InputLayout.forModel(CNN, d)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("d.npy: shape mismatch: data examples of shape [10]");
        }
    }

    @Test
    void explicitReshapeChecksTheCount() {
        try (Tensor x = Tensor.zeros(DType.F32, 3, 12);
             Tensor y = InputLayout.reshapeExamples(x, 2, 3, 2)) {
            assertThat(y.shape()).containsExactly(3, 2, 3, 2);
            assertThatThrownBy(() -> InputLayout.reshapeExamples(x, 5, 5))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("shape mismatch: data examples of shape [12] (12 values) cannot be read as [5, 5] "
                            + "(25 values)");
        }
    }

    @Test
    void datasetLayoutKeepsLabels() {
        try (Dataset d = new Dataset("d", Tensor.zeros(DType.F32, 2, 4, 4, 1), new int[] {2, 1}, 3);
             Dataset flat = InputLayout.forModel(DENSE_FIRST, d)) {
            assertThat(flat.x().shape()).containsExactly(2, 16);
            assertThat(flat.labels()).containsExactly(2, 1);
        }
    }
}
