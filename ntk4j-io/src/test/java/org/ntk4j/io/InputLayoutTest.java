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
    void channelsFirstImagesAreNotReadAsNhwcByImageModels() {
        // [3, 32, 32] read as [H, W, C] would be 3 x 32 images of 32 channels: another kernel, silently (before
        // 2026-12-07 cnn and resnet18 computed it)
        String msg = "shape mismatch: data examples of shape [3, 32, 32] are channels-first images (NCHW, PyTorch's "
                + "layout: 3 channels of 32 x 32 pixels), but model cnn(depth=1,channels=2,out=3) reads images as "
                + "[H, W, C] (NHWC) and would take them as 3 x 32 images of 32 channels; save them channels-last, "
                + "x.transpose(0, 2, 3, 1) (torch: x.permute(0, 2, 3, 1)), examples of shape [32, 32, 3]";
        assertThatThrownBy(() -> InputLayout.exampleShapeFor(CNN, new int[] {3, 32, 32}))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(msg);
        assertThatThrownBy(() -> InputLayout.exampleShapeFor(Zoo.parse("resnet18(out=3,width=2)"),
                new int[] {4, 16, 8})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[4, 16, 8] are channels-first images");
        try (Dataset d = new Dataset("x.npy", Tensor.zeros(DType.F32, 2, 3, 8, 8), null, 0)) {
            assertThatThrownBy(() -> InputLayout.forModel(CNN, d)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("x.npy: shape mismatch: data examples of shape [3, 8, 8] are "
                            + "channels-first");
        }
        // channels-last data, models that do not read images, and shapes no NCHW image has are taken as they are
        assertThat(InputLayout.exampleShapeFor(CNN, new int[] {32, 32, 3})).containsExactly(32, 32, 3);
        assertThat(InputLayout.exampleShapeFor(FCN, new int[] {3, 32, 32})).containsExactly(3, 32, 32);
        assertThat(InputLayout.exampleShapeFor(TRANSFORMER, new int[] {3, 32, 32})).containsExactly(3, 32, 32);
        assertThat(InputLayout.exampleShapeFor(CNN, new int[] {3, 7, 32})).containsExactly(3, 7, 32);
        assertThat(InputLayout.exampleShapeFor(CNN, new int[] {2, 32, 32})).containsExactly(2, 32, 32);
    }

    @Test
    void channelsFirstImagesAreRefusedByExpansionsAndByImageModelsThatDoNotStartWithAConvolution() {
        // linearize(cnn) and taylor2(cnn) read images as the cnn does, and a network built in code may start with a
        // residual block (a fan-out), a ReLU or a batch norm before its convolution: until the review of 2026-12-07
        // each took [3, 16, 16] as 3 x 16 images of 16 channels without a word (exampleShapeFor gave [3, 16, 16])
        org.ntk4j.nn.Layer conv16 = org.ntk4j.nn.Layers.conv(16, new int[] {3, 3}, new int[] {1, 1}, "SAME");
        List<Model> imageModels = List.of(
                Zoo.parse("linearize(cnn(depth=1,channels=2,out=3))"),
                Zoo.parse("taylor2(cnn(depth=1,channels=2,out=3), seed=4)"),
                Zoo.parse("linearize(resnet(blocks=1,channels=2,out=3))"),
                new Model(new Serial(List.of(org.ntk4j.nn.Layers.relu(), conv16,
                        org.ntk4j.nn.Layers.globalAvgPool(), org.ntk4j.nn.Layers.dense(3))), "relu-first"),
                new Model(new Serial(List.of(org.ntk4j.nn.Layers.residual(conv16),
                        org.ntk4j.nn.Layers.globalAvgPool(), org.ntk4j.nn.Layers.dense(3))), "residual-first"),
                new Model(new Serial(List.of(org.ntk4j.nn.Layers.batchNorm(), conv16,
                        org.ntk4j.nn.Layers.globalAvgPool(), org.ntk4j.nn.Layers.dense(3))), "batchnorm-first"));
        for (Model m : imageModels) {
            assertThat(m.outputShape(new int[] {3, 16, 16})).as(m.spec()).containsExactly(3); // what was computed
            assertThatThrownBy(() -> InputLayout.exampleShapeFor(m, new int[] {3, 16, 16})).as(m.spec())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("shape mismatch: data examples of shape [3, 16, 16] are channels-first images (NCHW, "
                            + "PyTorch's layout: 3 channels of 16 x 16 pixels), but model " + m.spec() + " reads "
                            + "images as [H, W, C] (NHWC) and would take them as 3 x 16 images of 16 channels; save "
                            + "them channels-last, x.transpose(0, 2, 3, 1) (torch: x.permute(0, 2, 3, 1)), examples "
                            + "of shape [16, 16, 3]");
            if (!m.spec().equals("residual-first")) { // whose skip connection takes 16 channels only
                assertThat(InputLayout.exampleShapeFor(m, new int[] {1, 16, 16})).as(m.spec())
                        .containsExactly(16, 16, 1);
            }
        }
        // an expansion of a model that does not read images, and shape-keeping layers before a dense one, do not
        Model linearFcn = Zoo.parse("linearize(fcn(depth=1,width=4,out=3))");
        assertThat(InputLayout.exampleShapeFor(linearFcn, new int[] {3, 16, 16})).containsExactly(3, 16, 16);
        Model reluDense = new Model(new Serial(List.of(org.ntk4j.nn.Layers.relu(), org.ntk4j.nn.Layers.flatten(),
                org.ntk4j.nn.Layers.dense(3))), "relu-dense");
        assertThat(InputLayout.exampleShapeFor(reluDense, new int[] {3, 16, 16})).containsExactly(3, 16, 16);
    }

    @Test
    void oneChannelFirstImagesAreLaidOutNhwcWithoutMovingAValue() {
        assertThat(InputLayout.exampleShapeFor(CNN, new int[] {1, 28, 28})).containsExactly(28, 28, 1);
        double[] v = new double[2 * 8 * 10];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.5 - 3;
        }
        try (Tensor x = Tensor.of(v, 2, 1, 8, 10);
             Tensor nhwc = InputLayout.forModel(CNN, x);
             Tensor same = Tensor.of(v, 2, 8, 10, 1);
             Tensor expected = InputLayout.forModel(CNN, same)) {
            assertThat(nhwc.shape()).containsExactly(2, 8, 10, 1);
            assertThat(nhwc.toDoubleArray()).containsExactly(expected.toDoubleArray());
            // the model gives these examples the kernel of [N, 8, 10, 1] data: the same logits
            try (org.ntk4j.nn.Params p = CNN.init(3, new int[] {8, 10, 1}, DType.F64);
                 Tensor a = CNN.apply(p, nhwc);
                 Tensor b = CNN.apply(p, expected)) {
                assertThat(a.toDoubleArray()).containsExactly(b.toDoubleArray());
            }
        }
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
