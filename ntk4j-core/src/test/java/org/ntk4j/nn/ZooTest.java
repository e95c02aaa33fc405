package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

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
        assertThatThrownBy(() -> Zoo.parse("fcn(act=swish)")).hasMessageStartingWith("act: unknown activation 'swish'");
        assertThatThrownBy(() -> Zoo.parse("fcn(depth=2")).hasMessageContaining("missing ')'");
        assertThatThrownBy(() -> Zoo.parse("fcn(param=mup)")).hasMessageContaining("expected ntk or standard");
        assertThatThrownBy(() -> Zoo.parse("transformer(dim=10,heads=4)"))
                .hasMessage("transformer: dim=10 is not divisible by heads=4");
    }

    @Test
    void incompatibleShapesAreReported() {
        Model att = new Model(Layers.globalSelfAttention(3), "att");
        assertThatThrownBy(() -> att.paramSpecs(new int[] {5, 4}))
                .hasMessageContaining("feature size 4 is not divisible by the 3 heads");
        assertThatThrownBy(() -> att.paramSpecs(new int[] {5}))
                .hasMessageContaining("expects per-example inputs of rank 2");
    }
}
