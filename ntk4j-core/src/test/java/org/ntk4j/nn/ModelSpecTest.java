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
}
