// Builds the Linux player from the command line (see unity/README.md):
//   unity-editor -batchmode -quit -projectPath unity -executeMethod Rls3.EditorTools.BuildPlayer.Linux \
//       -rls3-output Build/Room.x86_64
// The player needs no authored scene (Rls3Bootstrap builds everything); an empty one is created if
// missing, because a build needs at least one scene.
using System;
using System.IO;
using UnityEditor;
using UnityEditor.Build.Reporting;
using UnityEditor.SceneManagement;
using UnityEngine;

namespace Rls3.EditorTools
{
    public static class BuildPlayer
    {
        const string ScenePath = "Assets/Scenes/Room.unity";

        [MenuItem("rls3/Build Linux player")]
        public static void Linux()
        {
            var output = Argument("-rls3-output", "Build/Room.x86_64");
            if (!File.Exists(ScenePath))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(ScenePath));
                var scene = EditorSceneManager.NewScene(NewSceneSetup.EmptyScene, NewSceneMode.Single);
                EditorSceneManager.SaveScene(scene, ScenePath);
            }
            var options = new BuildPlayerOptions
            {
                scenes = new[] { ScenePath },
                locationPathName = output,
                target = BuildTarget.StandaloneLinux64,
                options = BuildOptions.None,
            };
            var report = BuildPipeline.BuildPlayer(options);
            if (report.summary.result != BuildResult.Succeeded)
            {
                Console.Error.WriteLine("rls3: the build failed: " + report.summary.result);
                if (Application.isBatchMode)
                {
                    EditorApplication.Exit(1);
                }
            }
        }

        static string Argument(string name, string fallback)
        {
            var args = Environment.GetCommandLineArgs();
            for (var i = 0; i + 1 < args.Length; i++)
            {
                if (args[i] == name)
                {
                    return args[i + 1];
                }
            }
            return fallback;
        }
    }
}
