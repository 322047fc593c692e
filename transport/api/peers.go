package api

import (
	"context"
	"io"
	"net/http"
	"sync"
)

// maxPeerAnswer bounds what askPeers reads of one member's answer.
const maxPeerAnswer = 64 << 20

// askPeers GETs pathQuery (a node-scoped read, so that it is not passed on again) from each of
// the other members' APIs at once, with the caller's API key: the answers' bodies by member,
// and the members that did not answer 200 within the request timeout.
func (s *Server) askPeers(peers []string, pathQuery, apiKey string) (map[string][]byte, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
	defer cancel()
	var (
		mu      sync.Mutex
		bodies  = make(map[string][]byte, len(peers))
		missing []string
		wg      sync.WaitGroup
	)
	for _, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b, err := getMember(ctx, addr+pathQuery, apiKey, maxPeerAnswer)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || resp.StatusCode != http.StatusOK {
				missing = append(missing, addr)
				return
			}
			bodies[addr] = b
		}()
	}
	wg.Wait()
	return bodies, missing
}

// getMember GETs u from another member's API with the caller's API key: its answer (the body
// closed) and at most limit bytes of the body.
func getMember(ctx context.Context, u, apiKey string, limit int64) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}
