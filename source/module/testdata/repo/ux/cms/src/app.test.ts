import { describe, it, test, expect } from "vitest";
import { title } from "./app";

describe("title", () => {
  it("trims", () => {
    expect(title(" a ")).toBe("a");
  });
  test("empty", () => {
    expect(title("")).toBe("untitled");
  });
  // it("commented out", () => {});
  test.each([["x", "x"]])("keeps %s", (a, b) => {
    expect(title(a)).toBe(b);
  });
});
