package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The model spec grammar, name or name(k=v,...): what it accepts, and one message for each way it is malformed. */
class ModelSpecTest {
    @Test
    void namesAndKeysAreCaseInsensitiveAndWhitespaceAroundTokensIsIgnored() {
        ModelSpec s = ModelSpec.parse(" FCN ( Depth = 2 , width=8 ) ");
        assertThat(s.name()).isEqualTo("fcn");
        assertThat(s.integer("depth", 1, 1)).isEqualTo(2);
        assertThat(s.integer("width", 1, 1)).isEqualTo(8);
        assertThat(ModelSpec.parse("cnn()").name()).isEqualTo("cnn");
    }

    @Test
    void eachMalformedSpecIsOneMessageNamingIt() {
        assertThatThrownBy(() -> ModelSpec.parse("fcn(depth=2")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model spec 'fcn(depth=2': missing ')' at the end");
        assertThatThrownBy(() -> ModelSpec.parse("fcn(depth)"))
                .hasMessage("model spec 'fcn(depth)': expected key=value, got 'depth'");
        // empty parts, before, between or after commas, are refused rather than skipped
        assertThatThrownBy(() -> ModelSpec.parse("fcn(,)"))
                .hasMessage("model spec 'fcn(,)': expected key=value, got ''");
        assertThatThrownBy(() -> ModelSpec.parse("fcn(depth=2,)"))
                .hasMessage("model spec 'fcn(depth=2,)': expected key=value, got ''");
        assertThatThrownBy(() -> ModelSpec.parse("fcn(depth=2,,width=4)"))
                .hasMessage("model spec 'fcn(depth=2,,width=4)': expected key=value, got ''");
        assertThatThrownBy(() -> ModelSpec.parse("fcn(depth=)")).hasMessage("model spec 'fcn(depth=)': option depth "
                + "has no value");
        assertThatThrownBy(() -> ModelSpec.parse("fcn(depth=2,DEPTH=3)"))
                .hasMessage("model spec 'fcn(depth=2,DEPTH=3)': option depth given twice");
        assertThatThrownBy(() -> ModelSpec.parse("2fcn")).hasMessage("model spec '2fcn': '2fcn' is not a model name");
    }

    /**
     * Arguments of the kernel API that used to fail from inside: nulls are named, and examples of the wrong shape
     * name the examples and the parameter they would need, not only the parameter.
     */
    @Test
    void nullArgumentsAndExamplesOfAnotherShapeAreNamed() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=3)");
        try (Params p = m.init(0, new int[] {5}, org.ntk4j.tensor.DType.F64);
             org.ntk4j.tensor.Tensor x = org.ntk4j.tensor.Tensor.zeros(org.ntk4j.tensor.DType.F64, 4, 6)) {
            assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(null, p)).hasMessage("model: must not be null");
            assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, null)).hasMessage("params: must not be null");
            assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, p).method(null))
                    .hasMessage("method: must not be null");
            assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, p).kernel(null, x, null))
                    .hasMessage("kind: must not be null");
            assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, p).ntk(x, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("x1: examples of shape [6] need parameter '1_dense/w' of shape [6, 8], and params has "
                            + "[5, 8]: were the parameters made for examples of another shape?");
        }
    }
}
