package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
)

// AuthOff is the DOCKET_AUTH value that serves without authentication.
const AuthOff = "off"

// Setup makes the API server's start-up decision about authentication,
// from DOCKET_API_KEYS_FILE (keysFile), DOCKET_AUTH (authMode) and
// DOCKET_HTTP_ADDR (listenAddr). With a keys file it opens it. Without one
// it returns a nil Keyring, meaning no authentication, only when the API
// listens on a loopback address (only this machine reaches it) or when
// authMode is "off"; it logs a warning either way. Anything else is an
// error: an API reachable from the network that anyone can use is never a
// default, so a forgotten keys file stops the server instead of exposing
// every tenant's jobs.
func Setup(keysFile, authMode, listenAddr string, log *slog.Logger) (*Keyring, error) {
	if log == nil {
		log = slog.Default()
	}
	switch authMode {
	case "", AuthOff:
	default:
		return nil, fmt.Errorf("DOCKET_AUTH=%q: want off or nothing", authMode)
	}
	if keysFile != "" {
		if authMode == AuthOff {
			return nil, fmt.Errorf("DOCKET_AUTH=off and DOCKET_API_KEYS_FILE=%s contradict each other: unset DOCKET_AUTH to require the keys, or unset DOCKET_API_KEYS_FILE to serve without authentication", keysFile)
		}
		k, err := Open(keysFile, log)
		if err != nil {
			return nil, fmt.Errorf("DOCKET_API_KEYS_FILE: %w", err)
		}
		return k, nil
	}
	if isLoopback(listenAddr) {
		log.Warn("the API serves WITHOUT authentication, on loopback only; set DOCKET_API_KEYS_FILE to a keys file (docket-api keys new --file) to require API keys",
			"addr", listenAddr)
		return nil, nil
	}
	if authMode == AuthOff {
		log.Warn("DOCKET_AUTH=off: the API serves WITHOUT authentication on a non-loopback address; anyone who reaches it can start, read and cancel every tenant's jobs and documents. Set DOCKET_API_KEYS_FILE to require API keys",
			"addr", listenAddr)
		return nil, nil
	}
	return nil, errors.New("the API refuses to serve without API keys on a non-loopback address (DOCKET_HTTP_ADDR=" + listenAddr + "): " +
		"set DOCKET_API_KEYS_FILE to a keys file (docket-api keys new --file), " +
		"listen on 127.0.0.1 or localhost, or set DOCKET_AUTH=off to serve without authentication")
}

// isLoopback says whether addr (host:port, or a bare host) is on a
// loopback address: 127.0.0.0/8, ::1 or "localhost". An empty host (":8080")
// listens on every interface and is not loopback; nor is any other name,
// which this does not resolve.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
