package api

import (
	"context"
	"fmt"
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
			b, err := getPeer(ctx, addr+pathQuery, apiKey)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				missing = append(missing, addr)
				return
			}
			bodies[addr] = b
		}()
	}
	wg.Wait()
	return bodies, missing
}

func getPeer(ctx context.Context, u, apiKey string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return b, nil
}
