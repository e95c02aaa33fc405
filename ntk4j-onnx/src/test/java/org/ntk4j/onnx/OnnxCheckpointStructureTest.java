package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;

/**
 * {@link OnnxModel#differenceFrom}: two exports of one network at other weights are the same network; another
 * operator, attribute, integer initializer (a reshape's target), parameter shape or output is a difference, named.
 */
class OnnxCheckpointStructureTest {
    @TempDir
    Path dir;

    /**
     * x [N, 3] · W [3, 4] + b, reshaped by the int64 initializer {@code shape}, then {@code act} (LeakyRelu with
     * {@code alpha}, or another operator): the weights from {@code seed}.
     */
    private OnnxModel net(String name, float seed, int outputs, long[] shape, String act, float alpha)
            throws IOException {
        float[] w = new float[3 * outputs];
        float[] b = new float[outputs];
        for (int i = 0; i < w.length; i++) {
            w[i] = seed * (i % 5 - 2) + 0.1f * i;
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = seed - 0.2f * i;
        }
        AttributeProto[] attrs = act.equals("LeakyRelu") ? new AttributeProto[] {AttributeProto.newBuilder()
            .setName("alpha").setType(AttributeProto.AttributeType.FLOAT).setF(alpha).build()}
            : new AttributeProto[0];
        GraphProto g = GraphProto.newBuilder()
                .addInput(Onnx.info("x", Onnx.FLOAT, "N", 3))
                .addOutput(Onnx.info("y", Onnx.FLOAT, "N", outputs))
                .addInitializer(Onnx.floatsRaw("W", w, 3, outputs))
                .addInitializer(Onnx.floatsRaw("b", b, outputs))
                .addInitializer(Onnx.int64s("shape", shape, 2))
                .addNode(Onnx.node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"h"}))
                .addNode(Onnx.node("Add", "add", new String[] {"h", "b"}, new String[] {"z"}))
                .addNode(Onnx.node("Reshape", "reshape", new String[] {"z", "shape"}, new String[] {"r"}))
                .addNode(Onnx.node(act, "act", new String[] {"r"}, new String[] {"y"}, attrs))
                .build();
        return OnnxModel.load(Onnx.write(dir.resolve(name + ".onnx"), Onnx.model(17, g)));
    }

    @Test
    void otherWeightsAreTheSameNetworkAndEachStructuralChangeIsNamed() throws IOException {
        OnnxModel epoch0 = net("e0", 0.5f, 4, new long[] {-1, 4}, "LeakyRelu", 0.1f);
        OnnxModel epoch1 = net("e1", 0.7f, 4, new long[] {-1, 4}, "LeakyRelu", 0.1f);
        assertThat(epoch1.parameterNames()).containsExactly("W", "b");
        assertThat(epoch1.differenceFrom(epoch0)).isNull();
        assertThat(epoch0.differenceFrom(epoch0)).isNull();
        assertThat(net("act", 0.7f, 4, new long[] {-1, 4}, "Relu", 0f).differenceFrom(epoch0))
                .isEqualTo("node 3 ('act') is Relu here, LeakyRelu there");
        assertThat(net("alpha", 0.7f, 4, new long[] {-1, 4}, "LeakyRelu", 0.2f).differenceFrom(epoch0))
                .isEqualTo("node 3 ('act', LeakyRelu) has other inputs, outputs or attributes");
        // Reshape to [0, 4] (0 copies the batch) computes the same here, but is another graph
        assertThat(net("shape", 0.7f, 4, new long[] {0, 4}, "LeakyRelu", 0.1f).differenceFrom(epoch0))
                .isEqualTo("initializer 'shape' (integers: a shape, axes or indices) holds other values");
        assertThat(net("wide", 0.7f, 5, new long[] {-1, 5}, "LeakyRelu", 0.1f).differenceFrom(epoch0))
                .isEqualTo("output 'y' [5] here, 'y' [4] there");
        // a parameter made constant is another parameterisation
        assertThat(epoch1.freeze(java.util.regex.Pattern.compile("^b$")).differenceFrom(epoch0))
                .isEqualTo("no parameter 'b' here (its parameters are [W])");
    }

    /**
     * x [N, 3] · W [3, 4] through a batch norm (running statistics from {@code stats}) plus the scalar buffer
     * {@code shift} is the output y; a second output y2 = x · W2 (another head, trained too, its weights from
     * {@code seed}) is left out by {@code output("y")}.
     */
    private OnnxModel buffered(String name, float seed, float stats, float shift) throws IOException {
        return buffered(name, seed, stats, shift, false);
    }

    /** {@link #buffered} written as by PyTorch's exporter ({@code pytorch}, where {@code torch}) or not. */
    private OnnxModel buffered(String name, float seed, float stats, float shift, boolean torch) throws IOException {
        float[] w = new float[12];
        for (int i = 0; i < w.length; i++) {
            w[i] = seed * (i % 5 - 2) + 0.1f * i;
        }
        GraphProto g = GraphProto.newBuilder()
                .addInput(Onnx.info("x", Onnx.FLOAT, "N", 3))
                .addOutput(Onnx.info("y", Onnx.FLOAT, "N", 4))
                .addOutput(Onnx.info("y2", Onnx.FLOAT, "N", 4))
                .addInitializer(Onnx.floatsRaw("W", w, 3, 4))
                .addInitializer(Onnx.floatsRaw("gamma", new float[] {1, seed, 2, 3}, 4))
                .addInitializer(Onnx.floatsRaw("beta", new float[] {0, 1, seed, 0}, 4))
                .addInitializer(Onnx.floatsRaw("mean", new float[] {stats, 0, 1, 2}, 4))
                .addInitializer(Onnx.floatsRaw("var", new float[] {1, stats, 2, 1}, 4))
                .addInitializer(Onnx.floatsRaw("shift", new float[] {shift}))
                .addInitializer(Onnx.floatsRaw("W2", w.clone(), 3, 4))
                .addNode(Onnx.node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"h"}))
                .addNode(Onnx.node("BatchNormalization", "bn", new String[] {"h", "gamma", "beta", "mean", "var"},
                        new String[] {"n"}))
                .addNode(Onnx.node("Add", "add", new String[] {"n", "shift"}, new String[] {"y"}))
                .addNode(Onnx.node("MatMul", "head2", new String[] {"x", "W2"}, new String[] {"y2"}))
                .build();
        ModelProto m = Onnx.model(17, g);
        if (torch) {
            m = m.toBuilder().setProducerName("pytorch").setProducerVersion("1.13.1").build();
        }
        return OnnxModel.load(Onnx.write(dir.resolve(name + ".onnx"), m), OnnxModel.Options.defaults().output("y"));
    }

    /**
     * A floating constant of the import (the scalar buffer {@code shift}) is the network: another value is another
     * network, as another attribute is. The batch norm's running statistics and the unused head's weights, which
     * training changes, are not.
     */
    @Test
    void aFloatingConstantIsTheNetworkButRunningStatisticsAndAnotherHeadAreNot() throws IOException {
        OnnxModel epoch0 = buffered("b0", 0.5f, 0.25f, 0.5f);
        assertThat(epoch0.parameterNames()).containsExactly("W", "gamma", "beta");
        assertThat(buffered("b1", 0.7f, 0.75f, 0.5f).differenceFrom(epoch0)).isNull();
        assertThat(buffered("b2", 0.5f, 0.25f, 0.7f).differenceFrom(epoch0))
                .isEqualTo("initializer 'shift' (a constant: neither a weight nor a batch norm's running statistic) "
                        + "holds other values");
    }

    /**
     * In a PyTorch file the same scalar {@code shift} is a parameter (a learned rank-0 nn.Parameter, CLIP's
     * logit_scale, or a buffer: the file does not say which), so another value is another checkpoint of one
     * network; frozen by name, it is still a weight that may differ.
     */
    @Test
    void aScalarOfAPytorchFileIsAParameterThatMayChange() throws IOException {
        OnnxModel epoch0 = buffered("t0", 0.5f, 0.25f, 0.5f, true);
        assertThat(epoch0.parameterNames()).containsExactly("W", "gamma", "beta", "shift");
        OnnxModel epoch1 = buffered("t1", 0.7f, 0.75f, 0.9f, true);
        assertThat(epoch1.differenceFrom(epoch0)).isNull();
        OnnxModel frozen = epoch1.freeze(java.util.regex.Pattern.compile("^shift$"));
        assertThat(frozen.parameterNames()).containsExactly("W", "gamma", "beta");
        assertThat(frozen.differenceFrom(epoch0.freeze(java.util.regex.Pattern.compile("^shift$")))).isNull();
    }
}
