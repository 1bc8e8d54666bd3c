package testcount

import (
	"testing"
)

func TestClassify(t *testing.T) {
	for rel, want := range map[string]string{
		"tests/unit/test_dataops.py":   Python,
		"pkg/dataops_test.py":          Python,
		"pkg/conftest.py":              "",
		"pkg/testing.py":               "",
		"x/y_test.go":                  Go,
		"x/y.go":                       "",
		"src/app.test.ts":              JS,
		"src/app.spec.jsx":             JS,
		"src/__tests__/app.js":         JS,
		"__tests__/helpers.mjs":        JS,
		"src/app.ts":                   "",
		"src/test.ts":                  "",
		"src/__tests__/snapshot.snap":  "",
		"tests/fixtures/test_data.txt": "",
	} {
		got, ok := Classify(rel)
		if got != want || ok != (want != "") {
			t.Errorf("Classify(%q) = %q, %v; want %q", rel, got, ok, want)
		}
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		name, lang, src string
		want            int
	}{
		{"python", Python, `import pytest

def test_one():
    assert True

async def test_two():
    pass

class TestThing:
    def test_method(self):
        pass

    async   def   test_async_method(self):
        pass

    def helper_test(self):
        pass

@pytest.mark.parametrize("x", [1, 2, 3])
def test_param(x):
    """Docstring mentioning
    def test_not_a_test():
    """
    pass

# def test_commented():
def testable_helper():  # pytest collects names starting with "test" too
    pass
`, 6},
		{"go", Go, `package x

func TestMain(m *testing.M) { os.Exit(m.Run()) }
func TestA(t *testing.T) {}
func Test(t *testing.T) {}
func Test_under(t *testing.T) {}
func Testify(t *testing.T) {}
func FuzzParse(f *testing.F) {}
func BenchmarkX(b *testing.B) {}
func ExampleX() {}
// func TestCommented(t *testing.T) {}
	func TestIndented() {}
`, 4},
		{"js", JS, `describe("thing", () => {
  it("works", () => {});
  it.only("focus", () => {});
  test.skip("skipped", () => {});
  test("a", () => {}); test("b", () => {});
  xit("disabled", () => {});
  test.each([[1], [2]])("table %i", (n) => {});
  // it("commented", () => {});
  expect(/x/.test("x")).toBe(true);
  const latest = contest("x");
});
`, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Count(tc.lang, []byte(tc.src)); got != tc.want {
				t.Errorf("Count = %d, want %d", got, tc.want)
			}
		})
	}
}

func FuzzCount(f *testing.F) {
	f.Add([]byte("def test_a():\n\t'''\n"))
	f.Add([]byte("func TestX(t *testing.T) {}\n"))
	f.Add([]byte("it('x', () => {}); test.each([])('y')"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := 1
		for _, c := range src {
			if c == '\n' {
				lines++
			}
		}
		for _, lang := range []string{Python, Go} {
			if n := Count(lang, src); n < 0 || n > lines {
				t.Fatalf("%s: %d tests in %d lines", lang, n, lines)
			}
		}
		if n := Count(JS, src); n < 0 || n > len(src) {
			t.Fatalf("js: %d tests in %d bytes", n, len(src))
		}
	})
}
