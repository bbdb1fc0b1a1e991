package controller

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-openapi/runtime"
	"github.com/openziti/edge-api/rest_model"
)

// APIError is a controller response that is not a success.
type APIError struct {
	Status  int
	Code    string // the controller's error code, e.g. NOT_FOUND
	Message string
	Cause   string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Cause != "" && e.Cause != e.Message {
		fmt.Fprintf(&b, " (%s)", e.Cause)
	}
	return b.String()
}

// Unwrap maps statuses onto the package's named causes.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAuth
	case http.StatusConflict:
		return ErrConflict
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return ErrUnreachable
	}
	return ErrRejected
}

type codedError interface{ Code() int }
type payloadError interface {
	GetPayload() *rest_model.APIErrorEnvelope
}

// Explain turns an error from the generated client or the transport into one
// that says what failed, why, and (through its cause) what to do. what names
// the operation, for example `creating identity "a1"`.
func Explain(err error, what string) error {
	if err == nil {
		return nil
	}
	// The HTTP client wraps transport errors in *url.Error, which only
	// repeats the URL; keep the named cause underneath instead.
	var ue *url.Error
	if errors.As(err, &ue) && isNamed(ue.Err) {
		err = ue.Err
	}
	var api *APIError
	if errors.As(err, &api) {
		return fmt.Errorf("%s: %w", what, err)
	}
	// A status the API spec does not declare for the operation arrives as
	// the runtime's generic error, without a parsed body.
	var undeclared *runtime.APIError
	if errors.As(err, &undeclared) {
		api := &APIError{Status: undeclared.Code, Message: "unexpected answer to " + undeclared.OperationName}
		if r, ok := undeclared.Response.(interface{ Body() io.ReadCloser }); ok && r.Body() != nil {
			var env rest_model.APIErrorEnvelope
			if b, err := io.ReadAll(io.LimitReader(r.Body(), 64<<10)); err == nil && json.Unmarshal(b, &env) == nil && env.Error != nil {
				api.Code, api.Message, api.Cause = env.Error.Code, env.Error.Message, env.Error.CauseMessage
			}
		}
		return fmt.Errorf("%s: %w", what, api)
	}
	var coded codedError
	if errors.As(err, &coded) {
		api = &APIError{Status: coded.Code()}
		var pe payloadError
		if errors.As(err, &pe) {
			if env := pe.GetPayload(); env != nil && env.Error != nil {
				api.Code = env.Error.Code
				api.Message = env.Error.Message
				api.Cause = env.Error.CauseMessage
				if env.Error.Cause != nil && api.Cause == "" {
					if fe := env.Error.Cause.APIFieldError; fe.Field != "" {
						api.Cause = fmt.Sprintf("field %s: %s", fe.Field, fe.Reason)
					}
				}
			}
		}
		return fmt.Errorf("%s: %w", what, api)
	}
	if isTLSError(err) {
		return fmt.Errorf("%s: %w: %w. Check ca_pem/ca_file (or the CA inside the identity), and that the endpoint's host name is one the controller's certificate names", what, ErrTLS, err)
	}
	if isNamed(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("%s: %w: %w. Check that the controller is running and the endpoint is right", what, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isNamed reports whether err already carries one of the package's causes.
func isNamed(err error) bool {
	for _, c := range []error{ErrConfig, ErrAuth, ErrTLS, ErrUnreachable, ErrNotFound, ErrConflict, ErrRejected} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// Permanent reports whether err cannot be fixed by trying again with the
// same configuration.
func Permanent(err error) bool {
	return errors.Is(err, ErrConfig) || errors.Is(err, ErrAuth) || errors.Is(err, ErrTLS)
}

func isTLSError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rec tls.RecordHeaderError
	)
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &cve) || errors.As(err, &rec)
}

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
