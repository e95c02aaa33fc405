package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Float32 kernels through LogSoftmax over many outputs: the softmax's shift by the maximum carries no derivative,
 * so the pntk (cotangents of ones, whose sum is O) is as accurate as a float32 kernel can be. With the shift's
 * derivative left to flow, Σ_k (1 − O·p_k), zero but for rounding, landed on each example's largest logit: the
 * float32 pntk of this model (logits x·W of spread 0.1) erred by 2.2e-6 of its largest entry, and by 2.5e-5 at
 * spread 0.01; it errs by 2.4e-7 and 1.4e-6 (measured, every method). Near-equal logits make the pntk itself a
 * cancellation (its gradient 1 − O·p_k is about the logits' differences, a float32 rounding of p_k in each), which
 * the looser tolerance of the smaller spread allows for. The float64 kernel of the same float32 weights and inputs
 * is the reference; the tolerances leave a factor 3 or more on each side, for any BLAS kernel.
 */
class OnnxSoftmaxFloat32Test {
    private static final int N = 8;
    private static final int F = 16;
    private static final int O = 100;

    @TempDir
    Path dir;

    @Test
    void float32PntkThroughLogSoftmaxOfHundredOutputsIsWithinFloat32Rounding() throws Exception {
        assertPntkWithin(0.1, 1e-6);
        assertPntkWithin(0.01, 5e-6);
    }

    /** The float32 pntk of x·W → LogSoftmax, W of scale {@code spread}, by each method, within {@code tol}. */
    private void assertPntkWithin(double spread, double tol) throws Exception {
        Random rnd = new Random(5);
        float[] w = new float[F * O];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (spread * rnd.nextGaussian() / Math.sqrt(F));
        }
        double[] x = new double[N * F];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        GraphProto g = GraphProto.newBuilder().setName("lsm")
                .addInput(Onnx.info("x", Onnx.FLOAT, "batch", F))
                .addOutput(Onnx.info("y", Onnx.FLOAT, "batch", O))
                .addInitializer(Onnx.floats("w", w, F, O))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                .addNode(Onnx.node("LogSoftmax", "lsm", new String[] {"h"}, new String[] {"y"}))
                .build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("lsm" + spread + ".onnx"), Onnx.model(13, g)));
        KernelKind kind = KernelKind.pntk();
        double[] ref;
        try (Params p = onnx.params(DType.F64); Tensor xs = Tensor.of(DType.F64, x, N, F);
             Tensor k = EmpiricalNtk.of(onnx.model(), p).method(Method.JACOBIAN_CONTRACTION)
                     .kernel(kind, xs, null)) {
            ref = k.toDoubleArray();
        }
        double scale = 0;
        for (double v : ref) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            try (Params p = onnx.params(DType.F32); Tensor xs = Tensor.of(DType.F32, x, N, F);
                 Tensor k = EmpiricalNtk.of(onnx.model(), p).method(m).kernel(kind, xs, null)) {
                double[] got = k.toDoubleArray();
                double worst = 0;
                for (int i = 0; i < got.length; i++) {
                    worst = Math.max(worst, Math.abs(got[i] - ref[i]));
                }
                assertThat(worst / scale).as("spread %s, %s", spread, m).isLessThan(tol);
            }
        }
    }
}
