module nines/argocd/healthtest

go 1.22

require (
	github.com/yuin/gopher-lua v1.1.1
	sigs.k8s.io/yaml v1.4.0
)
