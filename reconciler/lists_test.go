package reconciler

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryListPages reads the engine's source: every management-API list
// call must sit inside a page function handed to listAll, which sets the
// limit and pages to the end. A list made any other way stops at the
// controller's default page of 10.
func TestEveryListPages(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.HasPrefix(sel.Sel.Name, "List") || !strings.Contains(exprString(sel.X), ".API.") {
				return true
			}
			calls++
			if !insideListAll(stack) {
				t.Errorf("%s: %s is not made through listAll", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if calls < 10 {
		t.Fatalf("found only %d list calls; the check is not looking at the engine's source", calls)
	}
}

// insideListAll says whether the innermost function literal on the stack
// is an argument of a call to listAll.
func insideListAll(stack []ast.Node) bool {
	for i := len(stack) - 1; i > 0; i-- {
		if _, ok := stack[i].(*ast.FuncLit); !ok {
			continue
		}
		call, ok := stack[i-1].(*ast.CallExpr)
		if !ok {
			return false
		}
		id, ok := call.Fun.(*ast.Ident)
		if !ok {
			if ix, ok := call.Fun.(*ast.IndexExpr); ok {
				id, _ = ix.X.(*ast.Ident)
			}
		}
		return id != nil && id.Name == "listAll"
	}
	return false
}

func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name + "."
	case *ast.Ident:
		return x.Name
	}
	return ""
}
