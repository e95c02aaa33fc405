package org.ntk4j.examples;

import java.nio.file.Files;
import java.nio.file.Path;
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
 * <p>Run: {@code ntk4j-examples/run SgdCheckpoints [OUT] [TRAIN] [EPOCHS] [WIDTHS] [MODEL]} (defaults {@code ckpt},
 * {@code default:train}, 5, {@code 64,128,256,512,1024}, {@code fcn(depth=2,out=10)}).
 */
public final class SgdCheckpoints {
    private SgdCheckpoints() {
    }

    /**
     * Trains each width and writes its checkpoints.
     *
     * @param args optional: output directory, training data source, epochs, comma-separated widths, model spec
     *     (its width option replaced)
     * @throws Exception if the data cannot be read or a checkpoint cannot be written
     */
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "ckpt");
        String source = args.length > 1 ? args[1] : "default:train";
        int epochs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        String[] widths = (args.length > 3 ? args[3] : "64,128,256,512,1024").split(",");
        String spec = args.length > 4 ? args[4] : "fcn(depth=2,out=10)";
        int batch = 128;
        double lr = 0.1;
        try (Dataset data = DataSource.loadDataset(source, DType.F32, 0)) {
            int n = data.size();
            int[] per = data.exampleShape();
            for (String ws : widths) {
                int width = Integer.parseInt(ws.trim());
                Model net = Zoo.parse(spec.replaceAll("width\\s*=\\s*\\d+", "width=" + width).contains("width=")
                        ? spec.replaceAll("width\\s*=\\s*\\d+", "width=" + width)
                        : spec.substring(0, spec.length() - 1) + ",width=" + width + ")");
                int o = net.outputShape(per)[0];
                Path dir = Files.createDirectories(out.resolve("w" + width));
                Params p = net.init(0, per, DType.F32);
                ParamsFile.save(p, dir.resolve("epoch-0.npz"));
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
                    ParamsFile.save(p, dir.resolve("epoch-" + e + ".npz"));
                    System.out.printf(Locale.ROOT, "width %d epoch %d: mean train loss %.5f (%.1f s)%n", width, e,
                            lossSum / steps, (System.nanoTime() - t0) / 1e9);
                }
                p.close();
            }
        }
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
