package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Path;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Resize's coordinate and rounding modes on one axis against values worked out by hand from ONNX's formulas (PyTorch's
 * F.interpolate, which OnnxResearchModelsTest compares with, writes only some of them), and the one-line refusals of
 * what Resize and Einsum do not import.
 */
class OnnxResizeEinsumRulesTest {
    @TempDir
    Path dir;

    private static AttributeProto str(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(com.google.protobuf.ByteString.copyFromUtf8(v)).build();
    }

    /** Resize of x [N, in] along axis 1 by {@code scale}: the node with the given attributes. */
    private OnnxModel resize(int in, int out, double scale, AttributeProto... attrs) throws IOException {
        NodeProto n = node("Resize", "resize", new String[] {"x", "", "scales"}, new String[] {"y"}, attrs);
        GraphProto g = GraphProto.newBuilder().setName("resize")
                .addInput(info("x", DOUBLE, "N", in)).addOutput(info("y", DOUBLE, "N", out))
                .addInitializer(Onnx.floats("scales", new float[] {1, (float) scale}, 2)).addNode(n).build();
        return OnnxModel.load(Onnx.write(dir.resolve("resize.onnx"), model(13, g)));
    }

    private static double[] run(OnnxModel m, double... x) {
        try (Params p = m.params(DType.F64); Tensor xt = Tensor.of(x, 1, x.length);
             Tensor y = m.model().apply(p, xt)) {
            return y.toDoubleArray();
        }
    }

    @Test
    void nearestRoundsTheSourceCoordinateByNearestMode() throws IOException {
        // asymmetric, in 2, out 4: source coordinates 0, 0.5, 1, 1.5; a tie k + 1/2 goes down or up, 2 clamps to 1
        double[] x = {10, 20};
        String[][] modes = {{"floor", "10 10 20 20"}, {"ceil", "10 20 20 20"},
            {"round_prefer_floor", "10 10 20 20"}, {"round_prefer_ceil", "10 20 20 20"}};
        for (String[] m : modes) {
            double[] y = run(resize(2, 4, 2, str("mode", "nearest"), str("coordinate_transformation_mode",
                    "asymmetric"), str("nearest_mode", m[0])), x);
            assertThat(y).as(m[0]).containsExactly(java.util.Arrays.stream(m[1].split(" "))
                    .mapToDouble(Double::parseDouble).toArray());
        }
        // half_pixel and round_prefer_floor (the defaults), in 2, out 5: (o + 1/2) / 2.5 - 1/2 = -0.3, 0.1, 0.5 (a
        // tie, down), 0.9, 1.3
        double[] y = run(resize(2, 5, 2.5, str("mode", "nearest")), 1, 2);
        assertThat(y).containsExactly(1, 1, 1, 2, 2);
    }

    @Test
    void linearInterpolatesBetweenTheClampedNeighbours() throws IOException {
        Offset<Double> tight = Offset.offset(1e-15);
        // half_pixel, in 2, out 4: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
        double[] y = run(resize(2, 4, 2, str("mode", "linear")), 4, 8);
        assertThat(y).containsExactly(new double[] {4, 5, 7, 8}, tight);
        // align_corners, in 2, out 3: 0, 0.5, 1
        y = run(resize(2, 3, 1.5, str("mode", "linear"), str("coordinate_transformation_mode", "align_corners")),
                4, 8);
        assertThat(y).containsExactly(new double[] {4, 6, 8}, tight);
        // pytorch_half_pixel to one output: coordinate 0, where half_pixel's would be (0.5) · 2 - 0.5 = 0.5
        y = run(resize(2, 1, 0.5, str("mode", "linear"), str("coordinate_transformation_mode",
                "pytorch_half_pixel")), 4, 8);
        assertThat(y).containsExactly(new double[] {4}, tight);
        y = run(resize(2, 1, 0.5, str("mode", "linear")), 4, 8);
        assertThat(y).containsExactly(new double[] {6}, tight);
        // asymmetric, in 3, out 6: 0, 0.5, 1, 1.5, 2, 2.5 (clamped to 2)
        y = run(resize(3, 6, 2, str("mode", "linear"), str("coordinate_transformation_mode", "asymmetric")),
                0, 2, 6);
        assertThat(y).containsExactly(new double[] {0, 1, 2, 4, 6, 6}, tight);
    }

    /**
     * Cubic on x = [1, 2, 4, 8], asymmetric, by 2, A = −0.5: source coordinates 0, 0.5, 1, ...; at 0.5 Keys' weights of
     * the inputs −1, 0, 1, 2 are W(1.5) = A(1.5³ − 5·1.5² + 8·1.5 − 4) = −0.0625, W(0.5) = (A + 2)/8 − (A + 3)/4 + 1 =
     * 0.5625, 0.5625, −0.0625: with input −1 read at the edge, −0.0625 + 0.5625 + 0.5625·2 − 0.0625·4 = 1.375; with
     * exclude_outside, input −1 dropped, (0.5625 + 1.125 − 0.25) / 1.0625 = 23/17. At whole coordinates the input.
     */
    @Test
    void cubicWeighsFourNeighboursByKeysKernel() throws IOException {
        Offset<Double> tight = Offset.offset(1e-14);
        AttributeProto a = AttributeProto.newBuilder().setName("cubic_coeff_a")
                .setType(AttributeProto.AttributeType.FLOAT).setF(-0.5f).build();
        double[] y = run(resize(4, 8, 2, str("mode", "cubic"), str("coordinate_transformation_mode", "asymmetric"),
                a), 1, 2, 4, 8);
        assertThat(y[0]).isCloseTo(1, tight);
        assertThat(y[1]).isCloseTo(1.375, tight);
        assertThat(y[2]).isCloseTo(2, tight);
        assertThat(y[4]).isCloseTo(4, tight);
        y = run(resize(4, 8, 2, str("mode", "cubic"), str("coordinate_transformation_mode", "asymmetric"), a,
                Onnx.attr("exclude_outside", 1)), 1, 2, 4, 8);
        assertThat(y[1]).isCloseTo(23.0 / 17, tight);
        assertThat(y[2]).isCloseTo(2, tight);
    }

    @Test
    void otherResizeModesAreRefusedInOneLineNamingTheNode() {
        String[][] refused = {
            {"mode", "area", "unsupported operator Resize with mode='area' (only 'nearest', 'linear' and 'cubic') in "
                + "node 'resize' (Resize)"},
            {"coordinate_transformation_mode", "tf_crop_and_resize", "unsupported operator Resize with "
                + "coordinate_transformation_mode='tf_crop_and_resize' (only half_pixel, pytorch_half_pixel, "
                + "align_corners, asymmetric) in node 'resize' (Resize)"},
        };
        for (String[] r : refused) {
            assertThatThrownBy(() -> resize(2, 4, 2, str(r[0], r[1]))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(r[2]).hasMessageNotContaining("\n");
        }
        assertThatThrownBy(() -> resize(2, 4, 2, Onnx.attr("antialias", 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unsupported operator Resize with antialias=1 (only 0) in node 'resize'")
                .hasMessageNotContaining("\n");
    }

    @Test
    void scalesComputedFromTheInputAreRefusedNamingTheInput() throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("resize")
                .addInput(info("x", DOUBLE, "N", 2)).addOutput(info("y", DOUBLE, "N", 4))
                .addNode(node("Resize", "resize", new String[] {"x", "", "x"}, new String[] {"y"}))
                .build();
        Path f = Onnx.write(dir.resolve("computed.onnx"), model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": node 'resize' (Resize): input 2 (scales) must be known at import, but 'x' is "
                        + "computed from the input x")
                .hasMessageNotContaining("\n");
    }

    /** Einsum of x [N, 3] and w [rows, 2] by {@code equation}. */
    private Path einsum(String equation, int rows) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("einsum")
                .addInput(info("x", DOUBLE, "N", 3)).addOutput(info("y", DOUBLE, "N", 2))
                .addInitializer(Onnx.doubles("w", new double[rows * 2], rows, 2))
                .addNode(node("Einsum", "e", new String[] {"x", "w"}, new String[] {"y"}, str("equation", equation)))
                .build();
        return Onnx.write(dir.resolve("einsum.onnx"), model(13, g));
    }

    @Test
    void badEinsumEquationsAreRefusedInOneLineNamingTheNodeAndTheEquation() throws IOException {
        String[][] cases = {
            {"ni,ij->nj", "4", "node 'e' (Einsum): equation 'ni,ij->nj': label 'i' has sizes 3 and 4 in two "
                + "operands"},
            {"ni->ni", "3", "node 'e' (Einsum): equation 'ni->ni' names 1 operand, the node has 2 inputs"},
            {"nij,jk->nk", "3", "node 'e' (Einsum): equation 'nij,jk->nk': subscripts 'nij' do not fit operand 0 of "
                + "shape [N, 3]"},
            {"ni,ij->nz", "3", "node 'e' (Einsum): equation 'ni,ij->nz': the output's 'z' is no operand's"},
            {"n1,ij->nj", "3", "node 'e' (Einsum): equation 'n1,ij->nj': '1' in the subscripts of operand 0 of "
                + "shape [N, 3] is not a letter"},
        };
        for (String[] c : cases) {
            Path f = einsum(c[0], Integer.parseInt(c[1]));
            assertThatThrownBy(() -> OnnxModel.load(f)).as(c[0]).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(f + ": " + c[2]).hasMessageNotContaining("\n");
        }
    }
}
