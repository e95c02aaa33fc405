package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * {@link ConvInputGrad} times a multiplier, in one step: dy {@code [B, OH, OW, Cout]}, the filter w
 * {@code [KH, KW, Cin, Cout]} and m {@code [M, H, W, Cin]} (M dividing B) give
 * {@code out[b] = conv_input_grad(dy, w)[b] ⊙ m[b mod M]}. It is what a backward pass with stacked cotangents
 * computes as {@code reshape(conv_input_grad(dy, w), [B/M, M, H, W, Cin]) ⊙ m} (a ReLU mask times a layer's
 * scale against K = B/M stacked cotangents); {@code org.ntk4j.graph.InputGradProducts} puts it in that product's
 * place, so that the product is taken as the input gradient's rows are written ({@link Convolution#inputGradTimes})
 * instead of in a pass of its own over the stack. The values are the same, element by element.
 *
 * <p>JVP and VJP are those of the composition it stands for: the rules of {@link ConvInputGrad}, the reshape and
 * {@link Mul}, applied in turn.
 */
public final class ConvInputGradMul implements Primitive {
    private final ConvInputGrad inputGrad;

    /**
     * Creates the product.
     *
     * @param window the window of the forward {@link Conv}
     * @param inputSpatial the input's spatial sizes (H, W) or (W), one per window axis, none negative; copied
     * @throws IllegalArgumentException if {@code inputSpatial} has the wrong length or a negative size
     */
    public ConvInputGradMul(Convolution.Window window, int[] inputSpatial) {
        this.inputGrad = new ConvInputGrad(window, inputSpatial);
    }

    /**
     * The input gradient whose result this multiplies.
     *
     * @return the {@link ConvInputGrad} of the same window and input spatial shape
     */
    public ConvInputGrad inputGrad() {
        return inputGrad;
    }

    @Override
    public String name() {
        return "conv_input_grad_mul";
    }

    @Override
    public String params() {
        return inputGrad.params();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 3) {
            throw new IllegalArgumentException(name() + ": expects 3 operands (cotangent, filter, multiplier), got "
                    + in.length);
        }
        TensorType out = inputGrad.outputType(in[0], in[1]);
        TensorType m = in[2];
        int[] os = out.shape();
        int[] ms = m.shape();
        boolean fits = ms.length == os.length && ms[0] >= 1 && os[0] % ms[0] == 0
                && Arrays.equals(Arrays.copyOfRange(ms, 1, ms.length), Arrays.copyOfRange(os, 1, os.length));
        if (m.dtype() != out.dtype() || !fits) {
            throw new IllegalArgumentException(name() + ": expected multiplier " + out.dtype().shortName() + "[M] + "
                    + Shapes.str(Arrays.copyOfRange(os, 1, os.length)) + " with M >= 1 dividing " + os[0] + ", got "
                    + m);
        }
        return out;
    }

    /** The input gradient's multiply-adds and one multiplication per result element. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return inputGrad.flops(new TensorType[] {inputs[0], inputs[1]}, output) + Shapes.size(output.shape());
    }

    /** The input gradient's scratch: the product itself needs none. */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        return inputGrad.workspaceBytes(new TensorType[] {inputs[0], inputs[1]}, output);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Convolution.inputGradTimes(in[0], in[1], inputGrad.inputSpatial(), inputGrad.window(), in[2]);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var u = p[0].builder().apply(inputGrad, p[0], p[1]);
        Var u5 = u.reshape(split(u.shape(), p[2].dim(0)));
        Var prod = u5.mul(p[2]);
        Var tu = t[0] == null && t[1] == null ? null : inputGrad.jvp(new Var[] {p[0], p[1]}, u,
                new Var[] {t[0], t[1]}, k);
        Var tu5 = tu == null ? null : tu.reshape(Shapes.prepend(k, u5.shape()));
        if (tu5 == null && t[2] == null) {
            return null;
        }
        Var tp = Mul.INSTANCE.jvp(new Var[] {u5, p[2]}, prod, new Var[] {tu5, t[2]}, k);
        return tp == null ? null : tp.reshape(Shapes.prepend(k, out.shape()));
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        Var u = p[0].builder().apply(inputGrad, p[0], p[1]);
        Var u5 = u.reshape(split(u.shape(), p[2].dim(0)));
        Var prod = u5.mul(p[2]);
        Var ct5 = ct.reshape(Shapes.prepend(ct.dim(0), u5.shape()));
        Var[] cm = Mul.INSTANCE.vjp(new Var[] {u5, p[2]}, prod, ct5, new boolean[] {needed[0] || needed[1], needed[2]});
        Var[] cg = new Var[] {null, null};
        if ((needed[0] || needed[1]) && cm[0] != null) {
            Var cu = cm[0].reshape(Shapes.prepend(ct.dim(0), u.shape()));
            cg = inputGrad.vjp(new Var[] {p[0], p[1]}, u, cu, new boolean[] {needed[0], needed[1]});
        }
        return new Var[] {cg[0], cg[1], needed[2] ? cm[1] : null};
    }

    /** {@code [B, ...]} as {@code [B/M, M, ...]}. */
    private static int[] split(int[] shape, int m) {
        int[] s = new int[shape.length + 1];
        s[0] = shape[0] / m;
        s[1] = m;
        System.arraycopy(shape, 1, s, 2, shape.length - 1);
        return s;
    }
}
