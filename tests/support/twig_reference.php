<?php
// The reference for mailcard's template engine: real Twig (Debian's php-twig) renders JSON-lines
// requests from stdin, one result line each, in order. Used by tests/support/php_reference.py.
//   in:  {"id", "template", "context", "config": {"strict_variables", "autoescape", "timezone",
//         "date_format", "number_format"}}
//   out: {"id", "output"} or {"id", "error": {"message", "line"}}
require_once '/usr/share/php/Twig/autoload.php';
date_default_timezone_set('UTC');
while (($line = fgets(STDIN)) !== false) {
    $request = json_decode($line, true);
    $config = $request['config'] ?? [];
    $autoescape = $config['autoescape'] ?? 'html';
    $env = new \Twig\Environment(
        new \Twig\Loader\ArrayLoader(['template' => $request['template']]),
        [
            'strict_variables' => (bool) ($config['strict_variables'] ?? false),
            'autoescape' => $autoescape ? $autoescape : false,
            'cache' => false,
        ]
    );
    $core = $env->getExtension(\Twig\Extension\CoreExtension::class);
    $core->setTimezone($config['timezone'] ?? 'UTC');
    if (isset($config['date_format'])) {
        $core->setDateFormat(...(array) $config['date_format']);
    }
    if (isset($config['number_format'])) {
        $core->setNumberFormat(...$config['number_format']);
    }
    $result = ['id' => $request['id'] ?? null];
    try {
        $result['output'] = $env->render('template', $request['context'] ?? []);
    } catch (\Throwable $e) {
        $message = $e instanceof \Twig\Error\Error ? $e->getRawMessage() : get_class($e) . ': ' . $e->getMessage();
        $line = $e instanceof \Twig\Error\Error ? $e->getTemplateLine() : null;
        $result['error'] = ['message' => $message, 'line' => $line];
    }
    echo json_encode($result, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
}
