package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.ArgumentErrorsTest.oneLineError;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Flat rows of as many values as an example (a CSV, a flat .npy) are taken wherever the example shape is known, as
 * --data and predict's --test take them: kernel's --x2 beside image --data, approx's --data and study's --sample
 * (s² columns: an s×s image, as kernel's --data), and explain's --input.
 */
class FlatExamplesTest {
    private static final String CNN = "cnn(depth=1,channels=2,out=3)";

    @TempDir
    Path dir;

    /** [N, 4, 3, 1] images and the same values as [N, 12] rows: no square, so only --data's shape lays them out. */
    private Path[] imagesAndRows() throws Exception {
        Path images = dir.resolve("images.npy");
        Path rows = dir.resolve("rows.npy");
        try (Tensor x = Tensor.randomNormal(DType.F64, 7, 5, 4, 3, 1)) {
            Npy.write(images, x);
            try (Tensor flat = x.reshape(5, 12)) {
                Npy.write(rows, flat);
            }
        }
        return new Path[] {images, rows};
    }

    /** kernel --x2 of flat rows is the kernel of --x2 given as the images they are (to the last bit: same values). */
    @Test
    void kernelTakesFlatX2RowsInTheShapeOfTheDataExamples() throws Exception {
        Path[] files = imagesAndRows();
        Path asImages = dir.resolve("k_images.npy");
        Path asRows = dir.resolve("k_rows.npy");
        String[] args = {"kernel", "--model", CNN, "--data", files[0].toString(), "--dtype", "f64", "--x2", null,
            "--out", null, "--quiet"};
        args[8] = files[0].toString();
        args[10] = asImages.toString();
        run(0, args);
        args[8] = files[1].toString();
        args[10] = asRows.toString();
        assertThat(run(0, args)[0]).contains("x2 [5, 4, 3, 1]");
        try (Tensor a = Npy.readTensor(asImages, DType.F64); Tensor b = Npy.readTensor(asRows, DType.F64)) {
            assertThat(b.shape()).containsExactly(5, 5);
            for (int i = 0; i < a.size(); i++) {
                assertThat(b.getFlat(i)).isEqualTo(a.getFlat(i));
            }
        }
    }

    /** approx --data and study --sample of s² columns read them as kernel's --data does, as s×s images. */
    @Test
    void approxAndStudyLayOutFlatRowsAsKernelDoes() throws Exception {
        Path rows = dir.resolve("square.npy");
        try (Tensor x = Tensor.randomNormal(DType.F32, 3, 10, 16)) {
            Npy.write(rows, x);
        }
        assertThat(run(0, "approx", "--model", CNN, "--data", rows.toString(), "--n", "5", "--kinds", "pntk")[0])
                .contains("held-out inputs [4, 4, 1]");
        double[] y = new double[10];
        for (int i = 0; i < y.length; i++) {
            y[i] = i % 3;
        }
        Path labels = dir.resolve("labels.npy");
        try (Tensor t = Tensor.of(y, 10)) {
            Npy.write(labels, t);
        }
        try (Params p0 = Zoo.parse(CNN).init(0, new int[] {4, 4, 1}, DType.F32)) {
            ParamsFile.save(p0, dir.resolve("epoch-0.npz"));
        }
        assertThat(run(0, "study", "--model", CNN, "--widths", "2", "--checkpoints",
                dir.resolve("epoch-{epoch}.npz").toString(), "--sample", rows + ":labels=" + labels, "--n", "5",
                "--kinds", "pntk", "--json", dir.resolve("s.json").toString())[1]).doesNotContain("ntk4j:");
        assertThat(run(0, "explain", "--model", CNN, "--input", "16", "--n", "3")[0]).contains("x1 3 × [4, 4, 1]");
    }

    /**
     * kernel's --x2 and predict's and train's --test of as many values per example as the others but in another
     * shape (channels first beside channels-last images) were reshaped to the others' shape, reading their values in
     * another order: a wrong kernel without a word. They are refused naming the option; a shape that differs only by
     * axes of size 1 ([1, 4, 3] beside [4, 3, 1]) holds the same values in the same order and gives the same kernel.
     */
    @Test
    void examplesInAnotherOrderOfTheirValuesAreRefusedNotReshaped() throws Exception {
        Path hwc = dir.resolve("hwc.npy");
        Path chw = dir.resolve("chw.npy");
        Path labels = dir.resolve("labels.npy");
        try (Tensor a = Tensor.randomNormal(DType.F32, 1, 5, 4, 3, 2);
             Tensor b = Tensor.randomNormal(DType.F32, 2, 5, 2, 4, 3);
             Tensor y = Tensor.of(new double[] {0, 1, 2, 0, 1}, 5)) {
            Npy.write(hwc, a);
            Npy.write(chw, b);
            Npy.write(labels, y);
        }
        String refusal = " examples of shape [2, 4, 3] are not laid out as %s [4, 3, 2] (read as those, their values "
                + "would be in another order); give them in that shape, or as flat rows of 24 values in its row-major "
                + "order";
        assertThat(oneLineError("kernel", "--model", CNN, "--data", hwc.toString(), "--x2", chw.toString()))
                .isEqualTo("ntk4j: --x2:" + refusal.formatted("the --data examples"));
        String train = hwc + ":labels=" + labels;
        String test = chw + ":labels=" + labels;
        assertThat(oneLineError("predict", "--model", CNN, "--train", train, "--test", test))
                .isEqualTo("ntk4j: --test:" + refusal.formatted("the training examples"));
        assertThat(oneLineError("train", "--model", CNN, "--train", train, "--test", test, "--epochs", "1"))
                .isEqualTo("ntk4j: --test:" + refusal.formatted("the training examples"));

        Path[] files = imagesAndRows();
        Path channelsFirst = dir.resolve("one_channel_first.npy");
        try (Tensor x = Npy.readTensor(files[0], DType.F64); Tensor first = x.reshape(5, 1, 4, 3)) {
            Npy.write(channelsFirst, first);
        }
        Path asImages = dir.resolve("k_images.npy");
        Path asChannelsFirst = dir.resolve("k_first.npy");
        run(0, "kernel", "--model", CNN, "--data", files[0].toString(), "--dtype", "f64", "--x2", files[0].toString(),
                "--out", asImages.toString(), "--quiet");
        run(0, "kernel", "--model", CNN, "--data", files[0].toString(), "--dtype", "f64", "--x2",
                channelsFirst.toString(), "--out", asChannelsFirst.toString(), "--quiet");
        try (Tensor a = Npy.readTensor(asImages, DType.F64); Tensor b = Npy.readTensor(asChannelsFirst, DType.F64)) {
            assertThat(b.shape()).containsExactly(5, 5);
            for (int i = 0; i < a.size(); i++) {
                assertThat(b.getFlat(i)).isEqualTo(a.getFlat(i));
            }
        }
    }

    /**
     * linearize(cnn) read NCHW data [3, 8, 8] as 3 x 8 images of 8 channels without a word (kernel computed, exit 0)
     * until the review of 2026-12-07; it reads images as the cnn it expands, so it is refused as the cnn's is, and its
     * one-channel-first data [1, 8, 8] is laid out [8, 8, 1] as the cnn's (the printout's x1).
     */
    @Test
    void expansionsOfImageModelsRefuseChannelsFirstDataAsTheModelDoes() {
        String lin = "linearize(" + CNN + ")";
        assertThat(oneLineError("kernel", "--model", lin, "--data", "synthetic:2,3,8,8")).isEqualTo("ntk4j: --data: "
                + "shape mismatch: data examples of shape [3, 8, 8] are channels-first images (NCHW, PyTorch's layout: "
                + "3 channels of 8 x 8 pixels), but model " + lin + " reads images as [H, W, C] (NHWC) and would take "
                + "them as 3 x 8 images of 8 channels; save them channels-last, x.transpose(0, 2, 3, 1) (torch: "
                + "x.permute(0, 2, 3, 1)), examples of shape [8, 8, 3]");
        assertThat(run(0, "kernel", "--model", lin, "--data", "synthetic:2,1,8,8")[0]).contains("x1 [2, 8, 8, 1]");
    }
}
