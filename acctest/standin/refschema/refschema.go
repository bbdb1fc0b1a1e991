// Package refschema is the configuration schema of the real AI gateways
// agentmesh drives (openziti/llm-gateway v0.1.4, openziti/mcp-gateway
// v0.1.3), transcribed from shared/reference/gateways.md independently of
// agentmesh's renderers. Decode strictly: a key the real gateway would not
// read is an error here, where the gateway itself would ignore it.
package refschema

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

type (
	LLM struct {
		Listen string `yaml:"listen"`
		Zrok   *struct {
			Share struct {
				Enabled bool   `yaml:"enabled"`
				Mode    string `yaml:"mode"`
				Token   string `yaml:"token"`
			} `yaml:"share"`
		} `yaml:"zrok"`
		Providers struct {
			OpenAI    *Hosted `yaml:"open_ai"`
			Anthropic *Hosted `yaml:"anthropic"`
			Local     *struct {
				BaseURL        string `yaml:"base_url"`
				ZrokShareToken string `yaml:"zrok_share_token"`
				Endpoints      []struct {
					Name           string `yaml:"name"`
					BaseURL        string `yaml:"base_url"`
					ZrokShareToken string `yaml:"zrok_share_token"`
					Weight         int    `yaml:"weight"`
				} `yaml:"endpoints"`
				HealthCheck *struct {
					IntervalSeconds int `yaml:"interval_seconds"`
					TimeoutSeconds  int `yaml:"timeout_seconds"`
				} `yaml:"health_check"`
			} `yaml:"local"`
		} `yaml:"providers"`
		Routing *struct {
			AllowExplicitModel *bool  `yaml:"allow_explicit_model"`
			DefaultRoute       string `yaml:"default_route"`
			Heuristics         *struct {
				Enabled bool `yaml:"enabled"`
				Rules   []struct {
					Match struct {
						Keywords             []string `yaml:"keywords"`
						Exclude              []string `yaml:"exclude"`
						SystemPromptContains string   `yaml:"system_prompt_contains"`
						MaxTokensLt          int      `yaml:"max_tokens_lt"`
						MessageLengthLt      int      `yaml:"message_length_lt"`
						HasTools             *bool    `yaml:"has_tools"`
					} `yaml:"match"`
					Route string `yaml:"route"`
				} `yaml:"rules"`
			} `yaml:"heuristics"`
			Semantic *struct {
				Enabled            bool    `yaml:"enabled"`
				Provider           string  `yaml:"provider"`
				Model              string  `yaml:"model"`
				Threshold          float64 `yaml:"threshold"`
				AmbiguousThreshold float64 `yaml:"ambiguous_threshold"`
				Comparison         string  `yaml:"comparison"`
				CacheEmbeddings    *bool   `yaml:"cache_embeddings"`
				CacheTTL           string  `yaml:"cache_ttl"`
				CacheSize          int     `yaml:"cache_size"`
			} `yaml:"semantic"`
			Classifier *struct {
				Enabled             bool    `yaml:"enabled"`
				Provider            string  `yaml:"provider"`
				Model               string  `yaml:"model"`
				TimeoutMS           int     `yaml:"timeout_ms"`
				ConfidenceThreshold float64 `yaml:"confidence_threshold"`
				CacheResults        *bool   `yaml:"cache_results"`
				CacheTTL            string  `yaml:"cache_ttl"`
				CacheSize           int     `yaml:"cache_size"`
			} `yaml:"classifier"`
			Routes []struct {
				Name        string   `yaml:"name"`
				Model       string   `yaml:"model"`
				Description string   `yaml:"description"`
				Examples    []string `yaml:"examples"`
			} `yaml:"routes"`
		} `yaml:"routing"`
		APIKeys struct {
			Enabled bool `yaml:"enabled"`
			Keys    []struct {
				Name          string   `yaml:"name"`
				Key           string   `yaml:"key"`
				AllowedModels []string `yaml:"allowed_models"`
				AllowedRoutes []string `yaml:"allowed_routes"`
			} `yaml:"keys"`
		} `yaml:"api_keys"`
		Metrics *struct {
			Enabled bool   `yaml:"enabled"`
			Listen  string `yaml:"listen"`
		} `yaml:"metrics"`
		Tracing *struct {
			Enabled          bool `yaml:"enabled"`
			MaxContentLength int  `yaml:"max_content_length"`
		} `yaml:"tracing"`
	}
	Hosted struct {
		APIKey         string `yaml:"api_key"`
		BaseURL        string `yaml:"base_url"`
		ZrokShareToken string `yaml:"zrok_share_token"`
	}
	MCP struct {
		Aggregator struct {
			Name       string `yaml:"name"`
			Version    string `yaml:"version"`
			Separator  string `yaml:"separator"`
			Connection *struct {
				ConnectTimeout string `yaml:"connect_timeout"`
				CallTimeout    string `yaml:"call_timeout"`
			} `yaml:"connection"`
		} `yaml:"aggregator"`
		ShareToken   string `yaml:"share_token"`
		Orchestrator *struct {
			SocketPath        string `yaml:"socket_path"`
			HeartbeatInterval string `yaml:"heartbeat_interval"`
		} `yaml:"orchestrator"`
		LogFile  string `yaml:"log_file"`
		Backends []struct {
			ID        string `yaml:"id"`
			Name      string `yaml:"name"`
			Transport struct {
				Type          string            `yaml:"type"`
				Command       string            `yaml:"command"`
				Args          []string          `yaml:"args"`
				Env           map[string]string `yaml:"env"`
				WorkingDir    string            `yaml:"working_dir"`
				ShareToken    string            `yaml:"share_token"`
				Endpoint      string            `yaml:"endpoint"`
				Protocol      string            `yaml:"protocol"`
				Headers       map[string]string `yaml:"headers"`
				AllowInsecure bool              `yaml:"allow_insecure"`
				TLS           *struct {
					InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
					CACertFile         string `yaml:"ca_cert_file"`
				} `yaml:"tls"`
			} `yaml:"transport"`
			Tools struct {
				Mode string   `yaml:"mode"`
				List []string `yaml:"list"`
			} `yaml:"tools"`
		} `yaml:"backends"`
	}
)

// Decode reads YAML into v, refusing unknown keys.
func Decode(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}
