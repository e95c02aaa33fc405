package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torchvision's ImageNet ResNets ({@code torchvision.models.resnet18/34/50}, {@code wide_resnet50_2}; v1.5: a
 * bottleneck's stride is on its 3×3 convolution) with inference-mode batch norm, over NHWC inputs of any
 * spatial size (ImageNet: 224×224×3):
 * <pre>
 * conv 7×7/2 pad 3 (64) · bn · relu · max_pool 3×3/2 pad 1
 * · layer1..layer4: blocks × block(planes = 64, 128, 256, 512; stride 1, 2, 2, 2 at each layer's first block)
 * · global average pool · dense(out) with bias
 * basic block:      relu(bn(conv3×3/s(relu(bn(conv3×3/s x)))) + shortcut(x))                   (18, 34)
 * bottleneck block: relu(bn(conv1×1(relu(bn(conv3×3/s(relu(bn(conv1×1 x))))))) + shortcut(x))   (50)
 * shortcut: x, or bn(conv1×1/s x) (torchvision's "downsample") when the stride or the channels change
 * </pre>
 * Convolutions have no bias; batch norms have ε = 1e-5, {@code scale}/{@code shift} parameters and
 * {@code running_mean}/{@code running_var} buffers ({@link BatchNormEval}). {@code width} scales every channel
 * count (64 in torchvision); a bottleneck's inner width is planes · widthPerGroup / 64 (64, or 128 for
 * wide_resnet50_2). Parameter paths follow the layer tree ({@code 4_serial/0_serial/1_parallel/0_serial/0_conv/w});
 * {@link #torchvisionKeys} maps each to its torchvision {@code state_dict} key.
 */
public final class ResNets {
    private ResNets() {
    }

    /** Blocks per layer of the depths torchvision defines. */
    static int[] blocks(int depth) {
        switch (depth) {
            case 18:
                return new int[] {2, 2, 2, 2};
            case 34:
            case 50:
                return new int[] {3, 4, 6, 3};
            case 101:
                return new int[] {3, 4, 23, 3};
            case 152:
                return new int[] {3, 8, 36, 3};
            default:
                throw new IllegalArgumentException("resnet: depth must be 18, 34, 50, 101 or 152, got " + depth);
        }
    }

    /** Bottleneck blocks (expansion 4) from depth 50 on; basic blocks (expansion 1) below. */
    static boolean bottleneck(int depth) {
        return depth >= 50;
    }

    /**
     * The network, as a layer over [H, W, C] examples.
     *
     * @param depth 18, 34, 50, 101 or 152
     * @param out the outputs of the final dense layer (1000 for ImageNet), at least 1
     * @param width the stem's channels (64 in torchvision); layer i has width·2^i planes; at least 1
     * @param widthPerGroup a bottleneck's inner width per 64 planes (64; 128 for wide_resnet50_2); at least 1
     * @param wStd σ_w of convolutions and the dense layer
     * @param bStd σ_b of the dense layer's bias (0 removes it)
     * @param p the parameterisation (standard: torchvision's; the weights are then torchvision's tensors)
     * @return the layer
     * @throws IllegalArgumentException on an unknown depth or sizes below 1
     */
    public static Layer resnet(int depth, int out, int width, int widthPerGroup, double wStd, double bStd,
                               Parameterization p) {
        int[] blocks = blocks(depth);
        if (out < 1 || width < 1 || widthPerGroup < 1) {
            throw new IllegalArgumentException("resnet" + depth + ": out, width and width_per_group must be >= 1, "
                    + "got " + out + ", " + width + ", " + widthPerGroup);
        }
        boolean bottleneck = bottleneck(depth);
        int expansion = bottleneck ? 4 : 1;
        List<Layer> layers = new ArrayList<>();
        layers.add(conv(width, 7, 2, 3, wStd, p));
        layers.add(new BatchNormEval(1e-5));
        layers.add(Layers.relu());
        layers.add(new MaxPool(new int[] {3, 3}, new int[] {2, 2}, new int[][] {{1, 1}, {1, 1}}));
        int inplanes = width;
        for (int li = 0; li < 4; li++) {
            int planes = width << li;
            List<Layer> layer = new ArrayList<>();
            for (int b = 0; b < blocks[li]; b++) {
                int stride = b == 0 && li > 0 ? 2 : 1;
                List<Layer> main = new ArrayList<>();
                if (bottleneck) {
                    int inner = (int) ((long) planes * widthPerGroup / 64);
                    main.add(conv(inner, 1, 1, 0, wStd, p));
                    main.add(new BatchNormEval(1e-5));
                    main.add(Layers.relu());
                    main.add(conv(inner, 3, stride, 1, wStd, p));
                    main.add(new BatchNormEval(1e-5));
                    main.add(Layers.relu());
                    main.add(conv(planes * expansion, 1, 1, 0, wStd, p));
                } else {
                    main.add(conv(planes, 3, stride, 1, wStd, p));
                    main.add(new BatchNormEval(1e-5));
                    main.add(Layers.relu());
                    main.add(conv(planes, 3, 1, 1, wStd, p));
                }
                main.add(new BatchNormEval(1e-5));
                Layer shortcut = stride != 1 || inplanes != planes * expansion
                        ? Layers.serial(conv(planes * expansion, 1, stride, 0, wStd, p), new BatchNormEval(1e-5))
                        : Layers.identity();
                layer.add(Layers.serial(Layers.fanOut(2), Layers.parallel(new Serial(main), shortcut),
                        Layers.fanInSum(), Layers.relu()));
                inplanes = planes * expansion;
            }
            layers.add(new Serial(layer));
        }
        layers.add(new GlobalAvgPool());
        layers.add(new Dense(out, wStd, bStd, p));
        return new Serial(layers);
    }

    private static Layer conv(int out, int k, int stride, int pad, double wStd, Parameterization p) {
        return new Conv(out, new int[] {k, k}, new int[] {stride, stride}, new int[][] {{pad, pad}, {pad, pad}},
                wStd, 0, p);
    }

    /**
     * For every parameter and buffer path of {@link #resnet}{@code (depth, ...)}, its torchvision
     * {@code state_dict} key ({@code 0_conv/w} → {@code conv1.weight}, {@code 1_batch_norm_eval/scale} →
     * {@code bn1.weight}, {@code .../running_var} → {@code bn1.running_var}, {@code 9_dense/w} →
     * {@code fc.weight}). Tensors convert as: convolution weights HWIO = OIHWᵀ (axes (2, 3, 1, 0)), the dense
     * weight [in, out] = fc.weight [out, in]ᵀ, the others as they are; torchvision's
     * {@code num_batches_tracked} buffers have no counterpart (inference does not read them).
     *
     * @param depth 18, 34, 50, 101 or 152
     * @param withFcBias whether the dense layer has a bias (σ_b &gt; 0)
     * @return ntk4j path → torchvision key, in ntk4j's declaration order (parameters and buffers interleaved)
     * @throws IllegalArgumentException on an unknown depth
     */
    public static Map<String, String> torchvisionKeys(int depth, boolean withFcBias) {
        int[] blocks = blocks(depth);
        boolean bottleneck = bottleneck(depth);
        Map<String, String> m = new LinkedHashMap<>();
        m.put("0_conv/w", "conv1.weight");
        bn(m, "1_batch_norm_eval/", "bn1.");
        for (int li = 0; li < 4; li++) {
            for (int b = 0; b < blocks[li]; b++) {
                String block = (4 + li) + "_serial/" + b + "_serial/1_parallel/";
                String torch = "layer" + (li + 1) + "." + b + ".";
                int convs = bottleneck ? 3 : 2;
                for (int c = 0; c < convs; c++) {
                    m.put(block + "0_serial/" + (3 * c) + "_conv/w", torch + "conv" + (c + 1) + ".weight");
                    bn(m, block + "0_serial/" + (3 * c + 1) + "_batch_norm_eval/", torch + "bn" + (c + 1) + ".");
                }
                if (b == 0) { // the first block of every layer projects (channels or stride change), but
                    // layer1 of a basic-block net keeps 64 channels at stride 1
                    if (bottleneck || li > 0) {
                        m.put(block + "1_serial/0_conv/w", torch + "downsample.0.weight");
                        bn(m, block + "1_serial/1_batch_norm_eval/", torch + "downsample.1.");
                    }
                }
            }
        }
        m.put("9_dense/w", "fc.weight");
        if (withFcBias) {
            m.put("9_dense/b", "fc.bias");
        }
        return m;
    }

    private static void bn(Map<String, String> m, String path, String torch) {
        m.put(path + "scale", torch + "weight");
        m.put(path + "shift", torch + "bias");
        m.put(path + "running_mean", torch + "running_mean");
        m.put(path + "running_var", torch + "running_var");
    }
}
