package provider

import (
	"context"
	"log/slog"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// tflogHandler sends the reconciler's slog records to tflog, so they land
// in TF_LOG output under the provider's name. The reconciler never logs
// secrets; this handler adds none.
type tflogHandler struct {
	attrs []slog.Attr
	group string
}

func newLogger() *slog.Logger { return slog.New(&tflogHandler{}) }

func (h *tflogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *tflogHandler) Handle(ctx context.Context, r slog.Record) error {
	fields := make(map[string]any, r.NumAttrs()+len(h.attrs))
	add := func(a slog.Attr) bool {
		k := a.Key
		if h.group != "" {
			k = h.group + "." + k
		}
		fields[k] = a.Value.Resolve().Any()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	switch {
	case r.Level >= slog.LevelError:
		tflog.Error(ctx, r.Message, fields)
	case r.Level >= slog.LevelWarn:
		tflog.Warn(ctx, r.Message, fields)
	case r.Level >= slog.LevelInfo:
		tflog.Info(ctx, r.Message, fields)
	default:
		tflog.Debug(ctx, r.Message, fields)
	}
	return nil
}

func (h *tflogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &tflogHandler{attrs: append(append([]slog.Attr{}, h.attrs...), as...), group: h.group}
}

func (h *tflogHandler) WithGroup(name string) slog.Handler {
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &tflogHandler{attrs: h.attrs, group: g}
}
