package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class ZooTest {
    /** The width studies (approx, study, convergence, the SgdCheckpoints example) vary each model's own option. */
    @Test
    void withWidthSetsEachZooModelsOwnWidthOption() {
        assertThat(Zoo.withWidth("fcn", 16)).isEqualTo("fcn(width=16)");
        assertThat(Zoo.withWidth("fcn()", 16)).isEqualTo("fcn(width=16)");
        assertThat(Zoo.withWidth("fcn(depth=2,out=10)", 16)).isEqualTo("fcn(depth=2,out=10,width=16)");
        assertThat(Zoo.withWidth(" fcn(depth=1, Width = 8 ,out=10) ", 16)).isEqualTo("fcn(depth=1,width=16,out=10)");
        assertThat(Zoo.withWidth("cnn(depth=2)", 16)).isEqualTo("cnn(depth=2,channels=16)"); // width= was refused
        assertThat(Zoo.withWidth("transformer(channels=3)", 16)).isEqualTo("transformer(channels=3,dim=16)");
        for (Zoo.Entry e : Zoo.entries()) {
            String option = Zoo.widthOption(e.name());
            assertThat(option).as("the width option of zoo model %s", e.name()).isNotNull();
            assertThat(e.options()).as("%s's options", e.name()).containsPattern("(^|, )" + option + "=");
            assertThat(Zoo.parse(Zoo.withWidth(e.name(), 24)).spec()).endsWith(option + "=24)");
        }
        assertThatThrownBy(() -> Zoo.withWidth("linearize(fcn)", 8)).hasMessageContaining("has no width to vary");
        assertThatThrownBy(() -> Zoo.withWidth("fcn(depth=2", 8)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * fcn(depth=0) and cnn(depth=0) have no layer of the width: every width is the same network, which the width
     * studies' theory line says (it said −0.5 beside a measured 0); a layer of the width anywhere (resnet's stem)
     * changes it.
     */
    @Test
    void widthChangesModelIsFalseOnlyWhereNoLayerHasTheWidth() {
        assertThat(Zoo.widthChangesModel("fcn(depth=0,out=3)", new int[] {5}, 8, 64)).isFalse();
        assertThat(Zoo.widthChangesModel("cnn(depth=0,out=3)", new int[] {4, 4, 2}, 8, 64)).isFalse();
        assertThat(Zoo.widthChangesModel("fcn(depth=1,out=3)", new int[] {5}, 8, 64)).isTrue();
        assertThat(Zoo.widthChangesModel("cnn(depth=1,out=3)", new int[] {4, 4, 2}, 8, 64)).isTrue();
        assertThat(Zoo.widthChangesModel("resnet(blocks=0,out=3)", new int[] {4, 4, 2}, 8, 64)).isTrue();
    }

    @Test
    void fcnDepthCountsHiddenLayers() {
        Model m = Zoo.parse("fcn(depth=3,width=512,out=10,act=relu)");
        assertThat(m.paramSpecs(new int[] {784})).extracting(ParamSpec::toString).containsExactly(
                "1_dense/w[784, 512]", "1_dense/b[512]", "3_dense/w[512, 512]", "3_dense/b[512]",
                "5_dense/w[512, 512]", "5_dense/b[512]", "7_dense/w[512, 10]", "7_dense/b[10]");
        assertThat(m.outputShape(new int[] {28, 28})).containsExactly(10);
    }

    @Test
    void convolutionalModelsAcceptImagesWithOrWithoutAChannelAxis() {
        assertThat(Zoo.parse("cnn(depth=2,channels=8,out=10)").outputShape(new int[] {28, 28})).containsExactly(10);
        assertThat(Zoo.parse("resnet(blocks=2,channels=4,out=3)").outputShape(new int[] {8, 8, 3}))
                .containsExactly(3);
        assertThat(Zoo.parse("transformer(layers=1,dim=8,heads=2,out=10)").outputShape(new int[] {28, 28}))
                .containsExactly(10);
        assertThat(Zoo.entries()).extracting(Zoo.Entry::name).containsExactly("fcn", "cnn", "resnet", "transformer",
                "resnet18", "resnet34", "resnet50", "wide_resnet50_2");
        assertThatThrownBy(() -> Zoo.parse("cnn(pool=max)")).hasMessage("cnn: option pool must be gap or flatten, "
                + "got 'max'");
        assertThatThrownBy(() -> Zoo.parse("cnn").outputShape(new int[] {784}))
                .hasMessageContaining("to_image: expects per-example inputs [H, W] or [H, W, C], got [784]");
    }

    @Test
    void badSpecsGiveOneClearMessage() {
        assertThatThrownBy(() -> Zoo.parse("mlp(depth=2)")).hasMessageStartingWith("unknown model 'mlp'");
        assertThatThrownBy(() -> Zoo.parse("fcn(depth=two)"))
                .hasMessage("fcn: option depth must be an integer, got 'two'");
        assertThatThrownBy(() -> Zoo.parse("fcn(width=99999999999)"))
                .hasMessage("fcn: option width=99999999999 is too large (at most 2147483647)");
        assertThatThrownBy(() -> Zoo.parse("fcn(widht=3)")).hasMessageStartingWith("fcn: unknown option 'widht'");
        assertThatThrownBy(() -> Zoo.parse("fcn(width=0)")).hasMessage("fcn: option width must be >= 1, got 0");
        assertThatThrownBy(() -> Zoo.parse("fcn(act=mish)")).hasMessage("fcn: option act must be one of relu, "
                + "leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu, elu, "
                + "got 'mish'");
        assertThatThrownBy(() -> Zoo.parse("fcn(depth=2")).hasMessageContaining("missing ')'");
        assertThatThrownBy(() -> Zoo.parse("fcn(param=mup)")).hasMessageContaining("must be ntk or standard");
        assertThatThrownBy(() -> Zoo.parse("transformer(dim=10,heads=4)"))
                .hasMessage("transformer: dim=10 is not divisible by heads=4");
    }

    /**
     * act=leaky_relu takes the option slope (neural-tangents' LeakyRelu(alpha)), 0.01 when omitted: the zoo's fcn,
     * cnn and resnet apply max(x, slope·x), the same network as one built by hand from Layers.leakyRelu(slope) (the
     * same parameters at the same seed, the same outputs), and unlike the default slope's. A slope outside [0, 1],
     * or given with another act, is refused in one line.
     */
    @Test
    void leakyReluTakesItsSlopeFromTheSpec() {
        int[] in = {4};
        try (Tensor x = Tensor.randomNormal(DType.F64, 3, 5, 4)) {
            Model zoo = Zoo.parse("fcn(depth=2,width=6,out=3,act=leaky_relu,slope=0.3)");
            Model byHand = new Model(Layers.serial(Layers.flatten(), Layers.dense(6, 1.5, 0.05, Parameterization.NTK),
                    Layers.leakyRelu(0.3), Layers.dense(6, 1.5, 0.05, Parameterization.NTK), Layers.leakyRelu(0.3),
                    Layers.dense(3, 1.5, 0.05, Parameterization.NTK)), "by hand");
            Model defaultSlope = Zoo.parse("fcn(depth=2,width=6,out=3,act=leaky_relu)");
            try (Params p = zoo.init(7, in, DType.F64); Params q = byHand.init(7, in, DType.F64);
                 Tensor a = zoo.apply(p, x); Tensor b = byHand.apply(q, x); Tensor c = defaultSlope.apply(p, x)) {
                double farthest = 0;
                for (int f = 0; f < a.size(); f++) {
                    assertThat(a.getFlat(f)).isEqualTo(b.getFlat(f));
                    farthest = Math.max(farthest, Math.abs(a.getFlat(f) - c.getFlat(f)));
                }
                assertThat(farthest).isGreaterThan(0.01);
            }
        }
        assertThat(Zoo.parse("cnn(depth=1,channels=2,act=Leaky_ReLU,Slope=0.5)").spec())
                .isEqualTo("cnn(depth=1,channels=2,act=Leaky_ReLU,Slope=0.5)");
        assertThatThrownBy(() -> Zoo.parse("resnet(act=erf,slope=0.2)")).hasMessage("resnet: option slope is the "
                + "negative slope of act=leaky_relu, got slope=0.2 with act=erf");
        assertThatThrownBy(() -> Zoo.parse("fcn(slope=0.2)")).hasMessageEndingWith("got slope=0.2 with act=relu");
        assertThatThrownBy(() -> Zoo.parse("cnn(act=leaky_relu,slope=2)")).hasMessage("cnn: option slope must be in "
                + "[0, 1] (max(x, slope·x) is a leaky ReLU only there), got 2");
        assertThatThrownBy(() -> Zoo.parse("fcn(act=leaky_relu,slope=x)")).hasMessage("fcn: option slope must be a "
                + "number, got 'x'");
        assertThatThrownBy(() -> Zoo.parse("fcn(act=leaky_relu,slope=NaN)"))
                .hasMessage("fcn: option slope must be a finite number >= 0.0, got NaN");
        assertThatThrownBy(() -> Zoo.parse("transformer(slope=0.2)"))
                .hasMessageStartingWith("transformer: unknown option 'slope'").hasMessageNotContaining("slope=");
        assertThatThrownBy(() -> Zoo.parse("fcn(act=leaky_relu,slop=0.2)")).hasMessage("fcn: unknown option 'slop'; "
                + "options are depth=3, width=512, out=10, act=relu, param=ntk, w_std=1.5, b_std=0.05; "
                + "act=leaky_relu also takes slope=0.01");
    }

    @Test
    void incompatibleShapesAreReported() {
        Model att = new Model(Layers.globalSelfAttention(3), "att");
        assertThatThrownBy(() -> att.paramSpecs(new int[] {5, 4}))
                .hasMessageContaining("feature size 4 is not divisible by the 3 heads");
        assertThatThrownBy(() -> att.paramSpecs(new int[] {5}))
                .hasMessageContaining("expects per-example inputs of rank 2");
    }

    /**
     * Options whose hidden layers alone cannot fit in the JVM's memory for tensors are refused at once, in one line
     * naming them (a depth of 10⁸ spent minutes building layers, then ran out of heap); the bound is exact:
     * (depth - 1) · width² + width · out parameters of 4 bytes.
     */
    @Test
    void aDepthOrWidthBeyondTheJvmsMemoryIsRefusedNamingTheOptions() {
        String limit = org.ntk4j.ntk.CostModel.human(org.bytedeco.javacpp.Pointer.maxBytes());
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> Zoo.parse("fcn(depth=100000000)")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("fcn: depth=100000000 and width=512: at least 26,214,399,742,976 parameters need 95.4 TiB "
                        + "in float32, more than the " + limit + " this JVM holds of tensors (-Xmx, or "
                        + "-Dorg.bytedeco.javacpp.maxBytes; ./ntk4j takes them in NTK4J_JAVA_OPTS)");
        assertThat(System.nanoTime() - t0).as("nanoseconds to refuse").isLessThan(2_000_000_000L);
        assertThatThrownBy(() -> Zoo.parse("cnn(depth=3,channels=2000000000)"))
                .hasMessageStartingWith("cnn: depth=3, channels=2000000000 and filter=3: at least 7.2e+19 parameters "
                        + "need 2.9e+20 bytes in float32, more than the " + limit);
        assertThatThrownBy(() -> Zoo.parse("transformer(layers=1000000,dim=4096)"))
                .hasMessageStartingWith("transformer: layers=1000000 and dim=4096: at least ");
        assertThatThrownBy(() -> Zoo.parse("resnet(blocks=1000000,channels=4096)"))
                .hasMessageStartingWith("resnet: blocks=1000000 and channels=4096: at least ");
    }

    /**
     * Parameters that cannot fit in the JVM's memory for tensors, whatever the options' bound says (wide layers on
     * a wide input), are refused by init before any is allocated, naming the model, the bytes and the limit.
     */
    @Test
    void parametersBeyondTheJvmsMemoryAreRefusedBeforeAnyIsAllocated() {
        long limit = org.bytedeco.javacpp.Pointer.maxBytes();
        int width = 40_000; // 1.6e9 weights per layer: under 2^31 elements each
        int count = (int) (limit / (8.0 * width * width)) + 2;
        Layer[] layers = new Layer[count];
        java.util.Arrays.fill(layers, Layers.dense(width));
        Model m = new Model(Layers.serial(layers), "wide-net");
        long liveBefore = org.ntk4j.tensor.Tensor.liveBytes();
        assertThatThrownBy(() -> m.init(0, new int[] {width}, org.ntk4j.tensor.DType.F64))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("model 'wide-net': its ")
                .hasMessageContaining(" parameters need ")
                .hasMessageEndingWith(" in float64, more than the " + org.ntk4j.ntk.CostModel.human(limit)
                        + " this JVM holds of tensors (-Xmx, or -Dorg.bytedeco.javacpp.maxBytes; ./ntk4j takes them "
                        + "in NTK4J_JAVA_OPTS); use a smaller model");
        assertThat(org.ntk4j.tensor.Tensor.liveBytes()).isEqualTo(liveBefore);
    }

    /**
     * Names, option keys and word values are read without regard to case (docs/models.md), pool included (it was
     * the one word option compared as written); an unknown word is refused alike for every option, naming the model
     * and the option, at any depth (fcn(depth=0, act=...) took any act).
     */
    @Test
    void namesKeysAndWordOptionsAreCaseInsensitiveAndUnknownWordsAreRefusedAlike() {
        assertThat(Zoo.parse("CNN(Depth=1, Channels=4, Pool=FLATTEN, Act=ReLU, Param=NTK)").paramSpecs(new int[] {4, 4})
                .toString()).isEqualTo(Zoo.parse("cnn(depth=1,channels=4,pool=flatten,act=relu,param=ntk)")
                .paramSpecs(new int[] {4, 4}).toString());
        assertThatThrownBy(() -> Zoo.parse("cnn(pool=Max)")).hasMessage("cnn: option pool must be gap or flatten, "
                + "got 'Max'");
        assertThatThrownBy(() -> Zoo.parse("fcn(param=mup)")).hasMessage("fcn: option param must be ntk or standard, "
                + "got 'mup'");
        assertThatThrownBy(() -> Zoo.parse("resnet18(param=mup)")).hasMessage("resnet18: option param must be ntk or "
                + "standard, got 'mup'");
        assertThatThrownBy(() -> Zoo.parse("fcn(depth=0, act=mish)")).hasMessageStartingWith("fcn: option act must "
                + "be one of relu, ");
    }
}
