package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.graph.Graph;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Finite-difference gradient checks through every layer and every zoo model (float64), with respect to
 * parameters and inputs together, at the model's own initial parameters.
 */
class LayerDerivativesTest {
    static Stream<Arguments> layers() {
        return Stream.of(
                Arguments.of("dense", Layers.dense(3, 1.3, 0.2, Parameterization.NTK), new int[] {4}),
                Arguments.of("dense-standard", Layers.dense(3, 1.3, 0.2, Parameterization.STANDARD), new int[] {4}),
                Arguments.of("relu", Layers.serial(Layers.dense(5), Layers.relu()), new int[] {3}),
                Arguments.of("leaky_relu", Layers.serial(Layers.dense(5), Layers.leakyRelu(0.1)), new int[] {3}),
                Arguments.of("erf", Layers.serial(Layers.dense(5), Layers.erf()), new int[] {3}),
                Arguments.of("tanh", Layers.serial(Layers.dense(5), Layers.tanh()), new int[] {3}),
                Arguments.of("sigmoid", Layers.serial(Layers.dense(5), Layers.sigmoid()), new int[] {3}),
                Arguments.of("gelu", Layers.serial(Layers.dense(5), Layers.gelu()), new int[] {3}),
                Arguments.of("softplus", Layers.serial(Layers.dense(5), Layers.softplus()), new int[] {3}),
                Arguments.of("sin", Layers.serial(Layers.dense(5), Layers.sin()), new int[] {3}),
                Arguments.of("abs", Layers.serial(Layers.dense(5), Layers.abs()), new int[] {3}),
                Arguments.of("exp", Layers.serial(Layers.dense(5), Layers.exp()), new int[] {3}),
                Arguments.of("gaussian", Layers.serial(Layers.dense(5), Layers.gaussian()), new int[] {3}),
                Arguments.of("cos", Layers.serial(Layers.dense(5), Layers.cos()), new int[] {3}),
                Arguments.of("silu", Layers.serial(Layers.dense(5), Layers.silu()), new int[] {3}),
                Arguments.of("elu", Layers.serial(Layers.dense(5), Layers.elu()), new int[] {3}),
                Arguments.of("flatten", Layers.serial(Layers.flatten(), Layers.dense(2)), new int[] {2, 3}),
                Arguments.of("global_avg_pool", Layers.serial(Layers.dense(3), Layers.globalAvgPool()),
                        new int[] {4, 2}),
                Arguments.of("layer_norm", Layers.serial(Layers.dense(4), Layers.layerNorm()), new int[] {3}),
                Arguments.of("batch_norm", Layers.serial(Layers.dense(4), Layers.batchNorm()), new int[] {3}),
                Arguments.of("attention", Layers.globalSelfAttention(2), new int[] {3, 4}),
                Arguments.of("residual", Layers.residual(Layers.dense(3), Layers.tanh()), new int[] {3}),
                Arguments.of("conv2d", Layers.conv(2, new int[] {2, 2}, new int[] {1, 2}, "SAME", 1.2, 0.1,
                        Parameterization.NTK), new int[] {3, 4, 2}),
                Arguments.of("conv1d-standard", Layers.conv(2, new int[] {3}, new int[] {2}, "VALID", 1.2, 0.1,
                        Parameterization.STANDARD), new int[] {7, 2}),
                Arguments.of("avg_pool", Layers.serial(Layers.conv(2, new int[] {1, 1}, new int[] {1, 1}, "VALID"),
                        Layers.avgPool(new int[] {2, 2}, new int[] {1, 2}, "SAME")), new int[] {3, 3, 1}),
                Arguments.of("fan_in_concat", Layers.serial(Layers.fanOut(2),
                        Layers.parallel(Layers.dense(2), Layers.serial(Layers.dense(3), Layers.erf())),
                        Layers.fanInConcat(-1)), new int[] {3}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void layerDerivatives(String name, Layer layer, int[] in) {
        check(new Model(layer, name), in);
    }

    static Stream<String> zoo() {
        return Stream.of("fcn(depth=2,width=6,out=3)", "fcn(depth=1,width=5,out=2,act=erf,param=standard)",
                "cnn(depth=2,channels=3,out=2,act=tanh)", "cnn(depth=1,channels=2,out=2,pool=flatten)",
                "resnet(blocks=1,channels=2,out=2,act=gelu)", "transformer(layers=1,dim=4,heads=2,out=3)",
                "fcn(depth=2,width=5,out=2,act=leaky_relu,slope=0.3)",
                "cnn(depth=1,channels=2,out=2,act=leaky_relu,slope=0.6,param=standard)",
                "resnet(blocks=1,channels=2,out=2,act=leaky_relu,slope=0.2)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("zoo")
    void zooModelDerivatives(String spec) {
        Model m = Zoo.parse(spec);
        check(m, spec.startsWith("transformer") ? new int[] {3, 2}
                : spec.startsWith("fcn") ? new int[] {2, 3} : new int[] {4, 3, 2});
    }

    static void check(Model m, int[] in) {
        Graph g = m.trace(3, in, DType.F64);
        Params p = m.init(11, in, DType.F64);
        List<ParamSpec> specs = m.paramSpecs(in);
        Tensor[] args = new Tensor[specs.size() + 1];
        for (int i = 0; i < specs.size(); i++) {
            args[i] = p.get(specs.get(i).path()).copy();
            // scale and shift start constant; move them off their initial values so every path is exercised
            for (int e = 0; e < args[i].size(); e++) {
                args[i].setFlat(e, args[i].getFlat(e) + 0.1 * Math.sin(1 + e + 7 * i));
            }
        }
        args[specs.size()] = Tensor.randomNormal(DType.F64, 3, org.ntk4j.tensor.Shapes.prepend(3, in));
        assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, args, 2, 1e-6, 5)).as("JVP vs FD")
                .isLessThan(1e-6);
        assertThat(DerivativeCheck.adjointGap(g, args, 2, 6)).as("adjoint").isLessThan(1e-12);
    }
}
