package org.ntk4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.GradientStep;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.predict.Loss;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Checkpoints for {@code ntk4j study}: plain minibatch SGD ({@link GradientStep}) on a classifier at several widths,
 * writing the parameters at epoch 0 (the initialisation) and after every epoch as {@code OUT/w{width}/epoch-E.npz}.
 * Cross-entropy as {@link Loss#CROSS_ENTROPY} (a mean over the N·O target entries), learning rate 0.1, batches of
 * 128 in a seeded shuffled order, no momentum, inputs not standardised (not {@code ntk4j train}'s defaults, which
 * are Adam at 0.001 on standardised inputs; {@code ntk4j train --optimizer sgd --lr 0.1 --momentum 0
 * --standardize none --checkpoint-epochs 0,1,...} writes the same kind of files).
 *
 * <p>Run: {@code ntk4j-examples/run SgdCheckpoints [OUT] [TRAIN] [EPOCHS] [WIDTHS] [MODEL] [--overwrite]} (defaults
 * {@code ckpt}, {@code default:train}, 5, {@code 64,128,256,512,1024}, {@code fcn(depth=2,out=10)}). MODEL is any
 * zoo model; its width option ({@link Zoo#widthOption}: {@code width}, {@code channels} or {@code dim}) is set to
 * each width, added when the spec lacks it. Existing checkpoint files are refused unless {@code --overwrite}.
 */
public final class SgdCheckpoints {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "SgdCheckpoints [OUT] [TRAIN] [EPOCHS] [WIDTHS] [MODEL] [--overwrite]";

    private SgdCheckpoints() {
    }

    /**
     * Trains each width and writes its checkpoints.
     *
     * @param args optional: output directory, training data source, epochs, comma-separated widths, model spec
     *     (its width option replaced), {@code --overwrite}
     * @throws Exception only on a bug: bad arguments and I/O errors end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, SgdCheckpoints::run);
    }

    static void run(ExampleArgs args) throws IOException {
        Path out = Path.of(args.text(0, "ckpt"));
        String source = args.text(1, "default:train");
        int epochs = args.positive(2, 5);
        int[] widths = widths(args.text(3, "64,128,256,512,1024"));
        String spec = args.text(4, "fcn(depth=2,out=10)");
        Zoo.parse(spec);   // an unknown model or option is named before anything else
        // every checkpoint is checked before the first is written: files of yours only with --overwrite
        for (int width : widths) {
            for (int e = 0; e <= epochs; e++) {
                args.newFile(checkpoint(out, width, e));
            }
        }
        int batch = 128;
        double lr = 0.1;
        try (Dataset data = DataSource.loadDataset(source, DType.F32, 0)) {
            int n = data.size();
            int[] per = data.exampleShape();
            int classes = Arrays.stream(data.labels()).max().orElse(0) + 1;
            for (int width : widths) {
                Model net = Zoo.parse(Zoo.withWidth(spec, width));
                int[] outShape = net.outputShape(per);
                if (outShape.length != 1 || outShape[0] < classes) {
                    throw new IllegalArgumentException("MODEL " + net.spec() + " gives outputs "
                            + Arrays.toString(outShape) + " per example; cross-entropy on " + source
                            + " needs one vector of at least " + classes + " (its labels run to " + (classes - 1)
                            + ")");
                }
                int o = outShape[0];
                Files.createDirectories(out.resolve("w" + width));
                Params p = net.init(0, per, DType.F32);
                ParamsFile.save(p, checkpoint(out, width, 0));
                SplittableRandom rnd = new SplittableRandom(width);
                long t0 = System.nanoTime();
                for (int e = 1; e <= epochs; e++) {
                    int[] order = shuffled(n, rnd);
                    double lossSum = 0;
                    int steps = 0;
                    for (int from = 0; from < n; from += batch) {
                        int b = Math.min(batch, n - from);
                        try (Tensor x = gather(data.x(), order, from, b)) {
                            double[] y = new double[b * o];
                            for (int i = 0; i < b; i++) {
                                y[i * o + data.labels()[order[from + i]]] = 1;
                            }
                            double[] f;
                            try (Tensor fx = net.apply(p, x)) {
                                f = fx.toDoubleArray();
                            }
                            lossSum += Loss.CROSS_ENTROPY.value(f, y, o);
                            steps++;
                            double[] g = new double[f.length];
                            Loss.CROSS_ENTROPY.gradient(f, y, o, g);
                            try (Tensor gt = Tensor.of(DType.F32, g, b, o)) {
                                Params next = GradientStep.step(net, p, x, gt, lr);
                                p.close();
                                p = next;
                            }
                        }
                    }
                    ParamsFile.save(p, checkpoint(out, width, e));
                    System.out.printf(Locale.ROOT, "width %d epoch %d: mean train loss %.5f (%.1f s)%n", width, e,
                            lossSum / steps, (System.nanoTime() - t0) / 1e9);
                }
                p.close();
            }
        }
    }

    /** {@code OUT/w{width}/epoch-{epoch}.npz}: the paths {@code ntk4j study --checkpoints} reads. */
    static Path checkpoint(Path out, int width, int epoch) {
        return out.resolve("w" + width).resolve("epoch-" + epoch + ".npz");
    }

    /** The comma-separated WIDTHS: positive and distinct (a repeated width would overwrite its own files). */
    static int[] widths(String text) {
        String[] parts = text.split(",", -1);
        int[] w = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                w[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                w[i] = 0;   // refused below
            }
            if (w[i] < 1) {
                throw new IllegalArgumentException("WIDTHS must be positive integers separated by commas, got '"
                        + text + "'");
            }
            for (int j = 0; j < i; j++) {
                if (w[j] == w[i]) {
                    throw new IllegalArgumentException("WIDTHS names " + w[i] + " twice: '" + text + "'");
                }
            }
        }
        return w;
    }

    private static int[] shuffled(int n, SplittableRandom rnd) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /** The examples order[from .. from + b) of x, copied into one batch. */
    private static Tensor gather(Tensor x, int[] order, int from, int b) {
        int[] shape = x.shape().clone();
        shape[0] = b;
        Tensor out = Tensor.empty(x.dtype(), shape);
        int size = x.size() / x.dim(0);
        for (int i = 0; i < b; i++) {
            int src = order[from + i] * size;
            for (int k = 0; k < size; k++) {
                out.setFlat(i * size + k, x.getFlat(src + k));
            }
        }
        return out;
    }
}
