package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link OnnxSpec}: the string form of an import reads back to the same choices, whatever the path holds. */
class OnnxSpecTest {
    @Test
    void roundTripsPathsAndPatternsWithTheSeparatorsItUses() {
        OnnxSpec s = new OnnxSpec(Path.of("/data/a b+c%41?x=1&y/net.onnx"), new int[] {3, 32, 32}, "lo&gits=1",
                "^layer[12]\\.(weight|bias)$&x=%2F", "a+b c,d?");
        String text = s.toString();
        assertThat(text).startsWith("onnx:/data/a b+c%2541%3Fx=1&y/net.onnx?");
        OnnxSpec back = OnnxSpec.parse(text);
        assertThat(back.file()).isEqualTo(Path.of("/data/a b+c%41?x=1&y/net.onnx"));
        assertThat(back.inputShape()).containsExactly(3, 32, 32);
        assertThat(back.output()).isEqualTo("lo&gits=1");
        assertThat(back.freeze()).isEqualTo("^layer[12]\\.(weight|bias)$&x=%2F");
        assertThat(back.paramsOnly()).isEqualTo("a+b c,d?");
        assertThat(back).isEqualTo(s);
        // no choices: the bare file; a plain path is read as one
        OnnxSpec bare = new OnnxSpec(Path.of("/m/net.onnx"), null, null, null, null);
        assertThat(bare.toString()).isEqualTo("onnx:/m/net.onnx");
        assertThat(OnnxSpec.parse("/m/net.onnx")).isEqualTo(bare);
        assertThat(OnnxSpec.isOnnx("net.ONNX")).isTrue();
        assertThat(OnnxSpec.isOnnx("fcn(depth=2)")).isFalse();
    }

    @Test
    void badChoicesNameTheOption() {
        assertThatThrownBy(() -> new OnnxSpec(Path.of("n.onnx"), null, null, "(", null))
                .hasMessageStartingWith("--freeze: not a valid regular expression '('");
        assertThatThrownBy(() -> OnnxSpec.parseShape("--input-shape", "3,x"))
                .hasMessageStartingWith("--input-shape: expected positive sizes");
        assertThatThrownBy(() -> OnnxSpec.parse("onnx:/n.onnx?colour=red"))
                .hasMessageContaining("unknown option 'colour'");
        assertThatThrownBy(() -> OnnxSpec.parseModel("nonsense(")).isInstanceOf(IllegalArgumentException.class);
    }
}
